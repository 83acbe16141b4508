//! Idempotent consumption of events from a durable work queue.
//!
//! For each delivery, in one database transaction: record the event id in
//! `processed_events` (a duplicate insert means "already applied": skip) and
//! apply the handler. Ack only after commit. A crash before the ack makes
//! RabbitMQ redeliver, and the recorded id makes the redelivery a no-op.
//! A handler that keeps failing, or a message that is not an envelope, goes
//! to the queue's dead-letter queue instead of blocking the queue.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use tokio_util::sync::CancellationToken;

use super::amqp::{EventBus, next_delivery};
use super::envelope::Envelope;
use super::schema::processed_events;
use super::topology::{self, QueueSpec};
use crate::db::Pool;

/// Applies one event inside the consumer's transaction.
#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    async fn handle(&self, conn: &mut AsyncPgConnection, event: &Envelope) -> anyhow::Result<()>;

    /// Called after the transaction committed (e.g. to wake an outbox relay
    /// for events the handler wrote).
    fn committed(&self) {}
}

pub struct Consumer {
    pub spec: QueueSpec,
    pub pool: Pool,
    pub bus: EventBus,
    pub handler: Arc<dyn EventHandler>,
    pub prefetch: u16,
    pub max_attempts: u32,
}

enum Outcome {
    Applied,
    Duplicate,
}

impl Consumer {
    pub fn new(spec: QueueSpec, pool: Pool, bus: EventBus, handler: impl EventHandler) -> Self {
        Self { spec, pool, bus, handler: Arc::new(handler), prefetch: 32, max_attempts: 5 }
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
        while let Some(delivery) = next_delivery(&mut deliveries, shutdown).await? {
            self.process(delivery, shutdown).await?;
        }
        Ok(())
    }

    async fn process(&self, delivery: Delivery, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let envelope: Envelope = match serde_json::from_slice(&delivery.data) {
            Ok(envelope) => envelope,
            Err(err) => {
                tracing::error!(queue = self.spec.name, error = %err, "not an event envelope, dead-lettering");
                delivery.nack(BasicNackOptions { requeue: false, ..Default::default() }).await?;
                return Ok(());
            }
        };
        let span = tracing::info_span!("consume", queue = self.spec.name, event_id = %envelope.id, event_type = %envelope.event_type, user_id = %envelope.user_id);
        let _enter = span.enter();
        let mut attempt = 1;
        loop {
            match self.apply(&envelope).await {
                Ok(outcome) => {
                    self.handler.committed();
                    delivery.ack(BasicAckOptions::default()).await?;
                    match outcome {
                        Outcome::Applied => tracing::debug!("event applied"),
                        Outcome::Duplicate => tracing::debug!("duplicate event skipped"),
                    }
                    return Ok(());
                }
                Err(err) if attempt < self.max_attempts => {
                    tracing::warn!(attempt, error = format!("{err:#}"), "applying event failed, retrying");
                    let backoff = Duration::from_millis(100 * 2u64.pow(attempt));
                    tokio::select! {
                        // Unacked: the broker redelivers it to the next consumer.
                        _ = shutdown.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    attempt += 1;
                }
                Err(err) => {
                    tracing::error!(error = format!("{err:#}"), "applying event keeps failing, dead-lettering");
                    delivery.nack(BasicNackOptions { requeue: false, ..Default::default() }).await?;
                    return Ok(());
                }
            }
        }
    }

    async fn apply(&self, envelope: &Envelope) -> anyhow::Result<Outcome> {
        let mut conn = self.pool.get().await.context("database pool")?;
        let consumer = self.spec.name;
        let handler = self.handler.clone();
        conn.transaction(async |conn| -> anyhow::Result<Outcome> {
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
