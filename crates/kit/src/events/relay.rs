//! Publishes outbox rows to RabbitMQ.
//!
//! A batch is claimed with `FOR UPDATE SKIP LOCKED` (replicas never publish
//! the same rows concurrently), published with publisher confirms, and marked
//! published in the same transaction. A crash between the broker's confirm
//! and the commit republishes the batch: delivery is at-least-once and
//! consumers deduplicate by event id. A broker that does not confirm within
//! `confirm_timeout` counts as gone: the batch rolls back and is published
//! again on a fresh connection.
//!
//! A row that can never be published — not an envelope, above
//! [`MAX_EVENT_BYTES`], or refused (nacked) by the broker [`MAX_REFUSALS`]
//! times — is set aside (`failed_at`, `last_error`, logged at error level)
//! and skipped, so the rows after it go on. Published rows are kept for
//! `OUTBOX_RETENTION_HOURS` (see [`prune`]).

use std::time::Duration;

use anyhow::Context;
use diesel::sql_types::{Array, BigInt, Integer, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use lapin::Confirmation;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::EventsConfig;
use super::amqp::EventBus;
use super::envelope::Envelope;
use super::outbox::{MAX_EVENT_BYTES, Outbox};
use super::topology;
use super::topology::QueueSpec;
use crate::db::Pool;

/// Nacks of one row before it is set aside. A nack in this topology means
/// the broker refused that message (RabbitMQ nacks on a queue's internal
/// error or a queue that rejects publishes), so a few tries are enough.
pub const MAX_REFUSALS: i32 = 3;

pub struct OutboxRelay {
    pub pool: Pool,
    pub bus: EventBus,
    pub outbox: Outbox,
    pub batch_size: i64,
    /// Fallback when no in-process wake-up arrives (rows left by a crash).
    pub poll_interval: Duration,
    /// How long the broker has to confirm a batch.
    pub confirm_timeout: Duration,
    /// Published rows older than this are pruned.
    pub retention: Duration,
    /// How often pruning runs.
    pub prune_interval: Duration,
    /// Consumer queues declared before the first publish.
    pub queues: Vec<QueueSpec>,
    /// The `service` label of its metrics.
    pub service: &'static str,
}

#[derive(diesel::QueryableByName)]
struct PendingEvent {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Text)]
    envelope: String,
}

/// What one batch did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub published: usize,
    /// Refused by the broker this time, to be tried again.
    pub refused: usize,
    pub set_aside: usize,
}

impl BatchReport {
    fn handled(&self) -> usize {
        self.published + self.refused + self.set_aside
    }
}

impl OutboxRelay {
    pub fn new(pool: Pool, bus: EventBus, outbox: Outbox) -> Self {
        let defaults = EventsConfig::default();
        Self {
            pool,
            bus,
            outbox,
            batch_size: 200,
            poll_interval: Duration::from_millis(500),
            confirm_timeout: defaults.confirm_timeout,
            retention: defaults.outbox_retention,
            prune_interval: Duration::from_secs(600),
            queues: Vec::new(),
            service: "unnamed",
        }
    }

    /// The timeouts and retention of `config`.
    pub fn with_settings(mut self, config: &EventsConfig) -> Self {
        self.confirm_timeout = config.confirm_timeout;
        self.retention = config.outbox_retention;
        self.queues = config.queues.clone();
        self
    }

    /// Runs until `shutdown`; reconnects to RabbitMQ and PostgreSQL as needed.
    /// Prunes published rows in the background meanwhile.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let pruning = self.prune_periodically(&shutdown);
        let relaying =
            self.bus.run_connected("outbox-relay", &shutdown, |channel| self.publish_until_error(channel, &shutdown));
        tokio::join!(pruning, relaying);
        Ok(())
    }

    async fn publish_until_error(&self, channel: Channel, shutdown: &CancellationToken) -> anyhow::Result<()> {
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        topology::declare_all(&self.bus, &channel, &self.queues).await?;
        loop {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            let report = self.publish_batch(&channel).await?;
            // Refused rows are tried again at the next poll, not in a tight loop.
            if report.handled() < self.batch_size as usize || report.refused > 0 {
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = self.outbox.woken() => {}
                    _ = tokio::time::sleep(self.poll_interval) => {}
                }
            }
        }
    }

    /// Publishes one batch of pending rows.
    pub async fn publish_batch(&self, channel: &Channel) -> anyhow::Result<BatchReport> {
        let mut conn = self.pool.get().await.context("database pool")?;
        let exchange = self.bus.events_exchange();
        let batch_size = self.batch_size;
        let report = conn.transaction(async |conn| -> anyhow::Result<BatchReport> {
            let pending: Vec<PendingEvent> = diesel::sql_query(
                "SELECT id, event_type, attempts, envelope::text AS envelope FROM outbox \
                 WHERE published_at IS NULL AND failed_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
            )
            .bind::<BigInt, _>(batch_size)
            .load(conn)
            .await?;
            let mut report = BatchReport::default();
            let mut sendable = Vec::with_capacity(pending.len());
            for event in &pending {
                match message_body(&event.envelope) {
                    Ok(message) => sendable.push((event, message)),
                    Err(reason) => {
                        set_aside(conn, event, &reason).await?;
                        report.set_aside += 1;
                    }
                }
            }
            let outcomes = tokio::time::timeout(self.confirm_timeout, publish(channel, &exchange, &sendable))
                .await
                .map_err(|_| anyhow::anyhow!("broker did not confirm within {:?}", self.confirm_timeout))??;
            let mut published = Vec::with_capacity(outcomes.len());
            for (event, acked) in outcomes {
                if acked {
                    published.push(event.id);
                } else if event.attempts + 1 >= MAX_REFUSALS {
                    set_aside(conn, event, &format!("refused by the broker {MAX_REFUSALS} times")).await?;
                    report.set_aside += 1;
                } else {
                    tracing::warn!(event_id = %event.id, event_type = %event.event_type, "broker refused the event, will retry");
                    diesel::sql_query(
                        "UPDATE outbox SET attempts = attempts + 1, last_error = 'refused by the broker' WHERE id = $1",
                    )
                    .bind::<SqlUuid, _>(event.id)
                    .execute(conn)
                    .await?;
                    report.refused += 1;
                }
            }
            if !published.is_empty() {
                diesel::sql_query("UPDATE outbox SET published_at = now() WHERE id = ANY($1)")
                    .bind::<Array<SqlUuid>, _>(&published)
                    .execute(conn)
                    .await?;
            }
            report.published = published.len();
            if report.handled() > 0 {
                tracing::debug!(?report, "outbox batch");
            }
            Ok(report)
        })
        .await?;
        // Counted once committed: a rolled-back batch is published again.
        crate::metrics::OUTBOX_PUBLISHED.with_label_values(&[self.service]).inc_by(report.published as u64);
        crate::metrics::OUTBOX_SET_ASIDE.with_label_values(&[self.service]).inc_by(report.set_aside as u64);
        Ok(report)
    }

    async fn prune_periodically(&self, shutdown: &CancellationToken) {
        loop {
            match prune(&self.pool, self.retention).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "pruned published outbox rows"),
                Err(err) => tracing::warn!(error = format!("{err:#}"), "pruning the outbox failed, will retry"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.prune_interval) => {}
            }
        }
    }
}

/// What is published for a stored row.
struct Message {
    body: Vec<u8>,
    /// Also an AMQP header, so the trace is readable without the body.
    traceparent: Option<String>,
}

/// The message to publish for a stored envelope: compact JSON, checked to be
/// an envelope and within the size limit (rows written before the limit or
/// by hand may be neither). `Err` says why it can never be published.
fn message_body(stored: &str) -> Result<Message, String> {
    let envelope: Envelope = serde_json::from_str(stored).map_err(|err| format!("not an event envelope: {err}"))?;
    let body = serde_json::to_vec(&envelope).map_err(|err| format!("does not serialise: {err}"))?;
    if body.len() > MAX_EVENT_BYTES {
        return Err(format!("{} bytes, above the limit of {MAX_EVENT_BYTES}", body.len()));
    }
    Ok(Message { body, traceparent: envelope.traceparent })
}

/// Publishes every message, then waits for their confirms; `true` for an ack.
async fn publish<'a>(
    channel: &Channel,
    exchange: &str,
    events: &[(&'a PendingEvent, Message)],
) -> anyhow::Result<Vec<(&'a PendingEvent, bool)>> {
    let mut confirms = Vec::with_capacity(events.len());
    for (event, message) in events {
        let mut properties = BasicProperties::default()
            .with_message_id(event.id.to_string().into())
            .with_content_type("application/json".into())
            .with_delivery_mode(2);
        if let Some(traceparent) = &message.traceparent {
            let mut headers = lapin::types::FieldTable::default();
            headers
                .insert(crate::trace::HEADER.into(), lapin::types::AMQPValue::LongString(traceparent.as_str().into()));
            properties = properties.with_headers(headers);
        }
        let confirm = channel
            .basic_publish(
                exchange.into(),
                event.event_type.as_str().into(),
                BasicPublishOptions::default(),
                &message.body,
                properties,
            )
            .await?;
        confirms.push((*event, confirm));
    }
    let mut outcomes = Vec::with_capacity(confirms.len());
    for (event, confirm) in confirms {
        let acked = match confirm.await? {
            Confirmation::Ack(_) => true,
            Confirmation::Nack(_) => false,
            Confirmation::NotRequested => anyhow::bail!("publisher confirms are not enabled on this channel"),
        };
        outcomes.push((event, acked));
    }
    Ok(outcomes)
}

async fn set_aside(conn: &mut AsyncPgConnection, event: &PendingEvent, reason: &str) -> anyhow::Result<()> {
    tracing::error!(event_id = %event.id, event_type = %event.event_type, reason, "event cannot be published, set aside");
    diesel::sql_query("UPDATE outbox SET failed_at = now(), last_error = $2, attempts = attempts + 1 WHERE id = $1")
        .bind::<SqlUuid, _>(event.id)
        .bind::<Text, _>(reason)
        .execute(conn)
        .await?;
    Ok(())
}

/// Rows deleted per statement, so pruning never holds long locks.
const PRUNE_BATCH: i64 = 5_000;
/// Any number shared by the replicas of one database: one prunes at a time.
const PRUNE_LOCK: i64 = 7_242_012;

/// Deletes published rows older than `retention`, except the newest row of
/// each aggregate when that row is not a deletion: `analytics rebuild`
/// replays the newest event per aggregate, so every live aggregate keeps
/// one. A row goes only when a newer published row of its aggregate exists
/// or it is itself a `*.deleted` event. Unpublished and set-aside rows are
/// never touched. Safe to run on several replicas at once. Returns how many
/// rows it deleted.
pub async fn prune(pool: &Pool, retention: Duration) -> anyhow::Result<usize> {
    let mut conn = pool.get().await.context("database pool")?;
    let retention_secs = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
    let mut total = 0;
    loop {
        let deleted = conn
            .transaction(async |conn| -> anyhow::Result<Option<usize>> {
                #[derive(diesel::QueryableByName)]
                struct Locked {
                    #[diesel(sql_type = diesel::sql_types::Bool)]
                    locked: bool,
                }
                let lock: Locked = diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS locked")
                    .bind::<BigInt, _>(PRUNE_LOCK)
                    .get_result(conn)
                    .await?;
                if !lock.locked {
                    return Ok(None);
                }
                let deleted = diesel::sql_query(
                    "DELETE FROM outbox WHERE id IN ( \
                       SELECT o.id FROM outbox o \
                       WHERE o.published_at < now() - make_interval(secs => $1) \
                         AND (o.event_type LIKE '%.deleted' OR EXISTS ( \
                           SELECT 1 FROM outbox n \
                           WHERE n.aggregate_id = o.aggregate_id AND n.published_at IS NOT NULL \
                             AND (n.aggregate_version, n.seq) > (o.aggregate_version, o.seq))) \
                       LIMIT $2)",
                )
                .bind::<diesel::sql_types::Double, _>(retention_secs as f64)
                .bind::<BigInt, _>(PRUNE_BATCH)
                .execute(conn)
                .await?;
                Ok(Some(deleted))
            })
            .await?;
        match deleted {
            Some(deleted) => {
                total += deleted;
                if deleted < PRUNE_BATCH as usize {
                    return Ok(total);
                }
            }
            // Another replica is pruning this database.
            None => return Ok(total),
        }
    }
}
