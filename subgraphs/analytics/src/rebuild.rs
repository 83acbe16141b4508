//! `jobtracker analytics rebuild`: replays every application and interview
//! event from the publishing services' outboxes (which keep published
//! events) into empty read models.
//!
//! Applying an event replaces its aggregate's contribution when its version
//! is newer, so the end state depends only on the newest event of each
//! aggregate — which is why outbox pruning keeps the newest row of every
//! aggregate that still exists (`kit::events::relay::prune`): a rebuild after
//! pruning yields the same numbers. The replay therefore keeps the newest event per aggregate,
//! computes contributions with the consumer's own code, sums the counters in
//! memory and writes everything in bulk. Replayed ids are recorded as
//! processed, so a copy still queued in RabbitMQ is skipped when it arrives.

use std::collections::HashMap;

use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use jobtracker_kit::db::{self, DatabaseConfig};
use jobtracker_kit::events::{Envelope, outbox};
use uuid::Uuid;

use crate::events::{Change, change_of};
use crate::model::{CounterKey, interview_counter};

const WRITE_BATCH: usize = 5_000;

/// How many events were read and how many aggregates they describe.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RebuildReport {
    pub events: usize,
    pub aggregates: usize,
}

pub async fn rebuild(analytics: &DatabaseConfig, sources: &[DatabaseConfig]) -> anyhow::Result<RebuildReport> {
    let mut processed: Vec<Uuid> = Vec::new();
    let mut newest: HashMap<Uuid, Envelope> = HashMap::new();
    for source in sources {
        outbox::replay(source, "event_type LIKE 'application.%' OR event_type LIKE 'interview.%'", 0, |event| {
            processed.push(event.id);
            match newest.get(&event.aggregate_id) {
                Some(kept) if kept.aggregate_version >= event.aggregate_version => {}
                _ => drop(newest.insert(event.aggregate_id, event)),
            }
        })
        .await?;
    }

    let mut applications = Vec::new();
    let mut interviews = Vec::new();
    // Count per counter, and the smallest label it was given (as the consumer keeps it).
    let mut counters: HashMap<(Uuid, CounterKey), (String, i64)> = HashMap::new();
    let mut count = |owner: Uuid, key: &CounterKey, n: i64| {
        let (label, count) = counters.entry((owner, key.clone())).or_insert_with(|| (key.label.clone(), 0));
        if key.label < *label {
            label.clone_from(&key.label);
        }
        *count += n;
    };
    for event in newest.values() {
        match change_of(event)? {
            Change::Application(contribution) => {
                for counted in contribution.iter().flatten() {
                    count(event.user_id, &counted.counter, counted.count);
                }
                applications.push((event, contribution));
            }
            Change::Interview(counted) => {
                if counted {
                    count(event.user_id, &interview_counter(), 1);
                }
                interviews.push((event, counted));
            }
            Change::Ignored => {}
        }
    }

    let pool = db::bootstrap(analytics, crate::MIGRATIONS).await?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| -> anyhow::Result<()> {
        diesel::sql_query("TRUNCATE application_facts, interview_facts, user_counters").execute(conn).await?;
        diesel::sql_query("DELETE FROM processed_events WHERE consumer = $1").bind::<Text, _>(crate::EVENTS_QUEUE.name).execute(conn).await?;
        for chunk in applications.chunks(WRITE_BATCH) {
            let contributions: Vec<serde_json::Value> =
                chunk.iter().map(|(_, c)| serde_json::to_value(c.clone().unwrap_or_default())).collect::<Result<_, _>>()?;
            diesel::sql_query(
                "INSERT INTO application_facts (application_id, owner_id, version, deleted, contribution) \
                 SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::boolean[], $5::jsonb[])",
            )
            .bind::<Array<SqlUuid>, _>(chunk.iter().map(|(e, _)| e.aggregate_id).collect::<Vec<_>>())
            .bind::<Array<SqlUuid>, _>(chunk.iter().map(|(e, _)| e.user_id).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(chunk.iter().map(|(e, _)| e.aggregate_version).collect::<Vec<_>>())
            .bind::<Array<Bool>, _>(chunk.iter().map(|(_, c)| c.is_none()).collect::<Vec<_>>())
            .bind::<Array<Jsonb>, _>(contributions)
            .execute(conn)
            .await?;
        }
        for chunk in interviews.chunks(WRITE_BATCH) {
            diesel::sql_query(
                "INSERT INTO interview_facts (interview_id, owner_id, version, counted) \
                 SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::boolean[])",
            )
            .bind::<Array<SqlUuid>, _>(chunk.iter().map(|(e, _)| e.aggregate_id).collect::<Vec<_>>())
            .bind::<Array<SqlUuid>, _>(chunk.iter().map(|(e, _)| e.user_id).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(chunk.iter().map(|(e, _)| e.aggregate_version).collect::<Vec<_>>())
            .bind::<Array<Bool>, _>(chunk.iter().map(|(_, counted)| *counted).collect::<Vec<_>>())
            .execute(conn)
            .await?;
        }
        let counters: Vec<_> = counters.iter().collect();
        for chunk in counters.chunks(WRITE_BATCH) {
            diesel::sql_query(
                "INSERT INTO user_counters (owner_id, metric, key, label, count) \
                 SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[])",
            )
            .bind::<Array<SqlUuid>, _>(chunk.iter().map(|((owner, _), _)| *owner).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(chunk.iter().map(|((_, k), _)| k.metric.clone()).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(chunk.iter().map(|((_, k), _)| k.key.clone()).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(chunk.iter().map(|(_, (label, _))| label.clone()).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(chunk.iter().map(|(_, (_, count))| *count).collect::<Vec<_>>())
            .execute(conn)
            .await?;
        }
        for chunk in processed.chunks(WRITE_BATCH) {
            diesel::sql_query(
                "INSERT INTO processed_events (consumer, event_id) SELECT $1, id FROM unnest($2::uuid[]) AS id ON CONFLICT DO NOTHING",
            )
            .bind::<Text, _>(crate::EVENTS_QUEUE.name)
            .bind::<Array<SqlUuid>, _>(chunk.to_vec())
            .execute(conn)
            .await?;
        }
        Ok(())
    })
    .await?;
    let report = RebuildReport { events: processed.len(), aggregates: newest.len() };
    tracing::info!(events = report.events, aggregates = report.aggregates, "analytics rebuilt");
    Ok(report)
}
