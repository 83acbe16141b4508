//! Idempotent consumption of events from a durable work queue.
//!
//! For each delivery, in one database transaction: record the event id in
//! `processed_events` (a duplicate insert means "already applied": skip) and
//! apply the handler. Ack only after commit. A crash before the ack makes
//! RabbitMQ redeliver, and the recorded id makes the redelivery a no-op.
//!
//! A transient failure (see [`HandlerError`]) is retried with capped
//! exponential backoff for as long as it takes: the delivery stays unacked
//! and the consumer takes nothing else meanwhile, so a PostgreSQL restart
//! delays events but loses none and keeps their order. Only a message that
//! can never succeed — not an envelope, or a permanent handler error — goes
//! to the queue's dead-letter queue, at once.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::amqp::{EventBus, next_delivery};
use super::envelope::Envelope;
use super::error::{HandlerError, HandlerResult};
use super::schema::processed_events;
use super::topology::{self, QueueSpec};
use crate::db::Pool;
use crate::metrics;
use crate::trace;

/// Applies one event inside the consumer's transaction.
#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    async fn handle(&self, conn: &mut AsyncPgConnection, event: &Envelope) -> HandlerResult;

    /// Called after the transaction that applied `event` committed (e.g. to
    /// wake an outbox relay for events the handler wrote).
    fn committed(&self, _event: &Envelope) {}
}

pub struct Consumer {
    pub spec: QueueSpec,
    pub pool: Pool,
    pub bus: EventBus,
    pub handler: Arc<dyn EventHandler>,
    pub prefetch: u16,
    /// First pause after a transient failure; it doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

enum Outcome {
    Applied,
    Duplicate,
}

impl Consumer {
    pub fn new(spec: QueueSpec, pool: Pool, bus: EventBus, handler: impl EventHandler) -> Self {
        Self {
            spec,
            pool,
            bus,
            handler: Arc::new(handler),
            prefetch: 32,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
        }
    }

    /// The backoff settings of `config` (`CONSUMER_MAX_BACKOFF_SECS`).
    pub fn with_settings(mut self, config: &super::EventsConfig) -> Self {
        self.max_backoff = config.consumer_max_backoff;
        self
    }

    /// Runs until `shutdown`, reconnecting whenever the broker goes away.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let worker = format!("consumer {}", self.spec.name);
        self.bus.run_connected(&worker, &shutdown, |channel| self.consume_until_error(channel, &shutdown)).await;
        Ok(())
    }

    async fn consume_until_error(&self, channel: lapin::Channel, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let queue = topology::declare_queue(&self.bus, &channel, &self.spec).await?;
        channel.basic_qos(self.prefetch, BasicQosOptions::default()).await?;
        let mut deliveries = channel
            .basic_consume(queue.as_str().into(), "".into(), BasicConsumeOptions::default(), FieldTable::default())
            .await?;
        tracing::info!(queue = %queue, "consuming");
        let _depths = DepthSampler::spawn(channel.clone(), self.spec.name, queue.clone());
        while let Some(delivery) = next_delivery(&mut deliveries, shutdown).await? {
            self.process(&channel, delivery, shutdown).await?;
        }
        Ok(())
    }

    async fn process(
        &self,
        channel: &lapin::Channel,
        delivery: Delivery,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let queue = self.spec.name;
        if delivery.redelivered {
            metrics::EVENTS_REDELIVERED.with_label_values(&self.labels()).inc();
        }
        let envelope: Envelope = match serde_json::from_slice(&delivery.data) {
            Ok(envelope) => envelope,
            Err(err) => {
                tracing::error!(queue, error = %err, "not an event envelope, dead-lettering");
                delivery.nack(BasicNackOptions { requeue: false, ..Default::default() }).await?;
                self.count("dead_lettered");
                return Ok(());
            }
        };
        // The header first (what the relay published), else the envelope's own.
        let traceparent = trace_header(&delivery).or_else(|| envelope.traceparent.clone());
        let span = tracing::info_span!("consume", queue = self.spec.name, event_id = %envelope.id, event_type = %envelope.event_type, user_id = %envelope.user_id, trace_id = tracing::field::Empty);
        let context = trace::attach(&span, traceparent.as_deref());
        // Log lines of this delivery carry its span; events the handler writes, its trace.
        trace::scope(context, self.settle(channel, delivery, &envelope, shutdown).instrument(span)).await
    }

    /// Applies one delivery until it is acked (applied or a duplicate) or
    /// dead-lettered, retrying transient failures.
    async fn settle(
        &self,
        channel: &lapin::Channel,
        delivery: Delivery,
        envelope: &Envelope,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let labels = self.labels();
        let mut attempt: u32 = 1;
        let mut backoff = self.min_backoff;
        loop {
            match self.apply(envelope).await {
                Ok(outcome) => {
                    self.handler.committed(envelope);
                    delivery.ack(BasicAckOptions::default()).await?;
                    metrics::EVENTS_LAG
                        .with_label_values(&labels)
                        .observe(metrics::seconds_since(envelope.occurred_at));
                    self.count(match outcome {
                        Outcome::Applied => "applied",
                        Outcome::Duplicate => "duplicate",
                    });
                    match outcome {
                        Outcome::Applied if attempt > 1 => tracing::info!(attempt, "event applied after retries"),
                        Outcome::Applied => tracing::debug!("event applied"),
                        Outcome::Duplicate => tracing::debug!("duplicate event skipped"),
                    }
                    return Ok(());
                }
                Err(HandlerError::Permanent(err)) => {
                    tracing::error!(attempt, error = format!("{err:#}"), "event can never be applied, dead-lettering");
                    delivery.nack(BasicNackOptions { requeue: false, ..Default::default() }).await?;
                    self.count("dead_lettered");
                    return Ok(());
                }
                Err(HandlerError::Transient(err)) => {
                    metrics::EVENTS_RETRIES.with_label_values(&labels).inc();
                    // A channel the broker closed meanwhile (e.g. its delivery
                    // timeout) has handed the message back: reconnect and take
                    // it again rather than apply it with no way to ack.
                    if !channel.status().connected() {
                        anyhow::bail!("channel closed while retrying event {}: {err:#}", envelope.id);
                    }
                    let level_error = attempt.is_multiple_of(10);
                    if level_error {
                        tracing::error!(
                            attempt,
                            error = format!("{err:#}"),
                            retry_in_ms = backoff.as_millis() as u64,
                            "applying event still fails, retrying"
                        );
                    } else {
                        tracing::warn!(
                            attempt,
                            error = format!("{err:#}"),
                            retry_in_ms = backoff.as_millis() as u64,
                            "applying event failed, retrying"
                        );
                    }
                    tokio::select! {
                        // Unacked: the broker redelivers it to the next consumer.
                        _ = shutdown.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.max_backoff);
                    attempt = attempt.saturating_add(1);
                }
            }
        }
    }

    fn labels(&self) -> [&'static str; 2] {
        metrics::queue_labels(self.spec.name)
    }

    fn count(&self, outcome: &str) {
        let [service, queue] = self.labels();
        metrics::EVENTS_CONSUMED.with_label_values(&[service, queue, outcome]).inc();
    }

    async fn apply(&self, envelope: &Envelope) -> HandlerResult<Outcome> {
        let mut conn = self.pool.get().await?;
        let consumer = self.spec.name;
        let handler = self.handler.clone();
        conn.transaction(async |conn| -> HandlerResult<Outcome> {
            let inserted = diesel::insert_into(processed_events::table)
                .values((processed_events::consumer.eq(consumer), processed_events::event_id.eq(envelope.id)))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            if inserted == 0 {
                return Ok(Outcome::Duplicate);
            }
            handler.handle(conn, envelope).await?;
            Ok(Outcome::Applied)
        })
        .await
    }
}

fn trace_header(delivery: &Delivery) -> Option<String> {
    match delivery.properties.headers().as_ref()?.inner().get(trace::HEADER)? {
        lapin::types::AMQPValue::LongString(value) => Some(value.to_string()),
        _ => None,
    }
}

/// Samples the depth of a consumer's queue and of its dead-letter queue
/// every few seconds (passive declares on the consumer's channel) while the
/// consumer is connected; stops when dropped.
struct DepthSampler(tokio::task::JoinHandle<()>);

impl DepthSampler {
    const INTERVAL: Duration = Duration::from_secs(5);

    /// Both queues exist (declared before consuming), so a passive declare
    /// cannot fail with NOT_FOUND, which would close the consumer's channel.
    fn spawn(channel: lapin::Channel, spec_name: &'static str, queue: String) -> Self {
        let dlq = format!("{queue}.dlq");
        Self(tokio::spawn(async move {
            let labels = metrics::queue_labels(spec_name);
            let passive = lapin::options::QueueDeclareOptions { passive: true, ..Default::default() };
            loop {
                for (name, gauge) in [(&queue, &metrics::QUEUE_MESSAGES), (&dlq, &metrics::DEAD_LETTER_MESSAGES)] {
                    if let Ok(declared) =
                        channel.queue_declare(name.as_str().into(), passive, FieldTable::default()).await
                    {
                        gauge.with_label_values(&labels).set(i64::from(declared.message_count()));
                    }
                }
                tokio::time::sleep(Self::INTERVAL).await;
            }
        }))
    }
}

impl Drop for DepthSampler {
    fn drop(&mut self) {
        self.0.abort();
    }
}
