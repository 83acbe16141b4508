//! analytics' read models: facts per application and interview, and the
//! per-user counters derived from them. Writes happen inside the event
//! consumer's transaction.

use std::collections::BTreeMap;

use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use jobtracker_kit::AppResult;
use jobtracker_kit::db::Pool;
use jobtracker_kit::events::{HandlerError, HandlerResult};
use uuid::Uuid;

use crate::model::{Counted, CounterKey, delta, interview_counter};

#[derive(diesel::QueryableByName)]
struct Fact {
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Bool)]
    deleted: bool,
    #[diesel(sql_type = Jsonb)]
    contribution: serde_json::Value,
}

#[derive(Clone, Debug, diesel::QueryableByName)]
pub struct CounterRow {
    #[diesel(sql_type = Text)]
    pub metric: String,
    #[diesel(sql_type = Text)]
    pub key: String,
    #[diesel(sql_type = Text)]
    pub label: String,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
}

/// Applies the latest known state of an application (`None` once deleted).
/// Returns false when the event is older than what is already applied.
pub async fn apply_application(
    conn: &mut AsyncPgConnection,
    owner: Uuid,
    application: Uuid,
    version: i64,
    contribution: Option<Vec<Counted>>,
) -> HandlerResult<bool> {
    diesel::sql_query(
        "INSERT INTO application_facts (application_id, owner_id, version) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING",
    )
    .bind::<SqlUuid, _>(application)
    .bind::<SqlUuid, _>(owner)
    .execute(conn)
    .await?;
    let fact: Fact = diesel::sql_query(
        "SELECT version, deleted, contribution FROM application_facts WHERE application_id = $1 AND owner_id = $2 FOR UPDATE",
    )
    .bind::<SqlUuid, _>(application)
    .bind::<SqlUuid, _>(owner)
    .get_result(conn)
    .await?;
    if version <= fact.version || fact.deleted {
        return Ok(false);
    }
    let old: Vec<Counted> = serde_json::from_value(fact.contribution)
        .map_err(|err| HandlerError::permanent(anyhow::anyhow!("stored contribution of {application}: {err}")))?;
    let new = contribution.clone().unwrap_or_default();
    add_counters(conn, owner, &delta(&old, &new)).await?;
    diesel::sql_query(
        "UPDATE application_facts SET version = $2, deleted = $3, contribution = $4 WHERE application_id = $1",
    )
    .bind::<SqlUuid, _>(application)
    .bind::<BigInt, _>(version)
    .bind::<Bool, _>(contribution.is_none())
    .bind::<Jsonb, _>(serde_json::to_value(&new).map_err(HandlerError::permanent)?)
    .execute(conn)
    .await?;
    Ok(true)
}

/// Applies the latest state of an interview: counted when it exists and is
/// not cancelled.
pub async fn apply_interview(
    conn: &mut AsyncPgConnection,
    owner: Uuid,
    interview: Uuid,
    version: i64,
    counted: bool,
) -> HandlerResult<bool> {
    diesel::sql_query(
        "INSERT INTO interview_facts (interview_id, owner_id, version) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING",
    )
    .bind::<SqlUuid, _>(interview)
    .bind::<SqlUuid, _>(owner)
    .execute(conn)
    .await?;
    #[derive(diesel::QueryableByName)]
    struct InterviewFact {
        #[diesel(sql_type = BigInt)]
        version: i64,
        #[diesel(sql_type = Bool)]
        counted: bool,
    }
    let fact: InterviewFact = diesel::sql_query(
        "SELECT version, counted FROM interview_facts WHERE interview_id = $1 AND owner_id = $2 FOR UPDATE",
    )
    .bind::<SqlUuid, _>(interview)
    .bind::<SqlUuid, _>(owner)
    .get_result(conn)
    .await?;
    if version <= fact.version {
        return Ok(false);
    }
    let change = i64::from(counted) - i64::from(fact.counted);
    if change != 0 {
        add_counters(conn, owner, &BTreeMap::from([(interview_counter(), change)])).await?;
    }
    diesel::sql_query("UPDATE interview_facts SET version = $2, counted = $3 WHERE interview_id = $1")
        .bind::<SqlUuid, _>(interview)
        .bind::<BigInt, _>(version)
        .bind::<Bool, _>(counted)
        .execute(conn)
        .await?;
    Ok(true)
}

async fn add_counters(conn: &mut AsyncPgConnection, owner: Uuid, changes: &BTreeMap<CounterKey, i64>) -> HandlerResult {
    if changes.is_empty() {
        return Ok(());
    }
    let metrics: Vec<&str> = changes.keys().map(|k| k.metric.as_str()).collect();
    let keys: Vec<&str> = changes.keys().map(|k| k.key.as_str()).collect();
    let labels: Vec<&str> = changes.keys().map(|k| k.label.as_str()).collect();
    let counts: Vec<i64> = changes.values().copied().collect();
    diesel::sql_query(
        "INSERT INTO user_counters (owner_id, metric, key, label, count) \
         SELECT $1, m, k, l, n FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[]) AS t(m, k, l, n) \
         ON CONFLICT (owner_id, metric, key) DO UPDATE \
         SET count = user_counters.count + EXCLUDED.count, label = LEAST(user_counters.label, EXCLUDED.label)",
    )
    .bind::<SqlUuid, _>(owner)
    .bind::<Array<Text>, _>(metrics)
    .bind::<Array<Text>, _>(keys)
    .bind::<Array<Text>, _>(labels)
    .bind::<Array<BigInt>, _>(counts)
    .execute(conn)
    .await?;
    diesel::sql_query("DELETE FROM user_counters WHERE owner_id = $1 AND count = 0")
        .bind::<SqlUuid, _>(owner)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

impl Store {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// Every counter of one user: what a whole Analytics answer is built from.
    #[tracing::instrument(skip(self))]
    pub async fn counters(&self, owner: Uuid) -> AppResult<Vec<CounterRow>> {
        let mut conn = self.pool.get().await?;
        Ok(diesel::sql_query("SELECT metric, key, label, count FROM user_counters WHERE owner_id = $1")
            .bind::<SqlUuid, _>(owner)
            .load(&mut conn)
            .await?)
    }
}
