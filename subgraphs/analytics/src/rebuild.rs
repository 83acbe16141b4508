//! `jobtracker analytics rebuild`: empties the read models and replays every
//! application and interview event from the publishing services' outboxes
//! (which keep published events), through the same code as the consumer.
//! Replayed ids are recorded as processed, so a copy still queued in
//! RabbitMQ is skipped when it arrives.

use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jobtracker_kit::db::{self, DatabaseConfig};
use jobtracker_kit::events::Envelope;
use jobtracker_kit::events::topology::ANALYTICS_EVENTS;

use crate::events::apply;

const BATCH: i64 = 500;

#[derive(diesel::QueryableByName)]
struct OutboxRow {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    envelope: String,
}

/// How many events were read and how many changed the numbers.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RebuildReport {
    pub events: usize,
    pub applied: usize,
}

pub async fn rebuild(analytics: &DatabaseConfig, sources: &[DatabaseConfig]) -> anyhow::Result<RebuildReport> {
    let pool = db::bootstrap(analytics, crate::MIGRATIONS).await?;
    let mut target = pool.get().await?;
    target
        .transaction(async |conn| -> anyhow::Result<()> {
            diesel::sql_query("TRUNCATE application_facts, interview_facts, user_counters").execute(conn).await?;
            diesel::sql_query("DELETE FROM processed_events WHERE consumer = $1")
                .bind::<Text, _>(ANALYTICS_EVENTS.name)
                .execute(conn)
                .await?;
            Ok(())
        })
        .await?;
    let mut report = RebuildReport::default();
    for source in sources {
        let mut source_conn = AsyncPgConnection::establish(&source.url()).await?;
        let mut after = 0i64;
        loop {
            let rows: Vec<OutboxRow> = diesel::sql_query(
                "SELECT seq, envelope::text AS envelope FROM outbox \
                 WHERE seq > $1 AND (event_type LIKE 'application.%' OR event_type LIKE 'interview.%') ORDER BY seq LIMIT $2",
            )
            .bind::<BigInt, _>(after)
            .bind::<BigInt, _>(BATCH)
            .load(&mut source_conn)
            .await?;
            let Some(last) = rows.last() else { break };
            after = last.seq;
            let events =
                rows.iter().map(|r| serde_json::from_str::<Envelope>(&r.envelope)).collect::<Result<Vec<_>, _>>()?;
            let applied = target
                .transaction(async |conn| -> anyhow::Result<usize> {
                    let mut applied = 0;
                    for event in &events {
                        diesel::sql_query(
                            "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                        )
                        .bind::<Text, _>(ANALYTICS_EVENTS.name)
                        .bind::<diesel::sql_types::Uuid, _>(event.id)
                        .execute(conn)
                        .await?;
                        applied += usize::from(apply(conn, event).await?);
                    }
                    Ok(applied)
                })
                .await?;
            report.events += events.len();
            report.applied += applied;
        }
    }
    tracing::info!(events = report.events, applied = report.applied, "analytics rebuilt");
    Ok(report)
}
