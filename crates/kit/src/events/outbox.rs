//! Writing events: `Outbox::append` inside the caller's transaction, then
//! `Outbox::wake` after commit so the relay publishes without waiting for its
//! next poll.
//!
//! No event is larger than [`MAX_EVENT_BYTES`]: `append` refuses a bigger one
//! (the change fails with it) rather than write a row that could not be
//! published — payloads are bounded by construction, this is the backstop.

use std::sync::Arc;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use tokio::sync::Notify;

use super::envelope::Envelope;
use super::schema::outbox;

/// Largest envelope, as compact JSON, that is written and published: 64 KiB,
/// far below RabbitMQ's message limit and about 50 times today's largest
/// payload (an application with a 2 000-character note).
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("event {event_type} is {bytes} bytes, above the limit of {MAX_EVENT_BYTES}")]
    TooLarge { event_type: String, bytes: usize },
    #[error("event does not serialise: {0}")]
    Serialise(#[from] serde_json::Error),
    #[error("writing the event")]
    Database(#[from] diesel::result::Error),
}

impl From<AppendError> for crate::AppError {
    fn from(err: AppendError) -> Self {
        Self::internal(err)
    }
}

#[derive(Clone, Default)]
pub struct Outbox {
    wake: Arc<Notify>,
}

impl Outbox {
    /// Appends the event to the outbox. Must run inside the transaction that
    /// makes the change it describes: both commit, or neither.
    pub async fn append(conn: &mut AsyncPgConnection, event: &Envelope) -> Result<(), AppendError> {
        let bytes = serde_json::to_vec(event)?.len();
        if bytes > MAX_EVENT_BYTES {
            tracing::error!(event_id = %event.id, event_type = %event.event_type, bytes, "event too large, refused");
            return Err(AppendError::TooLarge { event_type: event.event_type.clone(), bytes });
        }
        diesel::insert_into(outbox::table)
            .values((
                outbox::id.eq(event.id),
                outbox::event_type.eq(&event.event_type),
                outbox::envelope.eq(serde_json::to_value(event)?),
                outbox::created_at.eq(event.occurred_at),
                outbox::aggregate_id.eq(event.aggregate_id),
                outbox::aggregate_version.eq(event.aggregate_version),
            ))
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Tells the relay of this process that rows are waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }
}

/// Reads a publisher's outbox rows whose event type matches `filter` (an SQL
/// condition on `event_type`, written by the caller, never from input) with
/// `seq > after`, in publication order, handing each envelope to `visit`;
/// the highest seq seen. What `analytics rebuild` and `search reindex`
/// replay: pruning keeps the newest row of every live aggregate.
pub async fn replay(
    source: &crate::db::DatabaseConfig,
    filter: &str,
    after: i64,
    mut visit: impl FnMut(Envelope),
) -> anyhow::Result<i64> {
    use anyhow::Context;
    use diesel::sql_types::{BigInt, Text};
    use diesel_async::AsyncConnection;

    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        seq: i64,
        #[diesel(sql_type = Text)]
        envelope: String,
    }

    const BATCH: i64 = 5_000;
    let mut conn = AsyncPgConnection::establish(&source.url()).await?;
    let mut last = after;
    loop {
        let rows: Vec<Row> = diesel::sql_query(format!(
            "SELECT seq, envelope::text AS envelope FROM outbox WHERE seq > $1 AND ({filter}) ORDER BY seq LIMIT $2"
        ))
        .bind::<BigInt, _>(last)
        .bind::<BigInt, _>(BATCH)
        .load(&mut conn)
        .await?;
        let Some(newest) = rows.last() else { return Ok(last) };
        last = newest.seq;
        for row in rows {
            let envelope = serde_json::from_str(&row.envelope)
                .with_context(|| format!("outbox row {} of {} is not an envelope", row.seq, source.name))?;
            visit(envelope);
        }
    }
}
