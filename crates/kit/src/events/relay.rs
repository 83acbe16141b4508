//! Publishes outbox rows to RabbitMQ.
//!
//! A batch is claimed with `FOR UPDATE SKIP LOCKED` (replicas never publish
//! the same rows concurrently), published with publisher confirms, and marked
//! published in the same transaction. A crash between the broker's confirm
//! and the commit republishes the batch: delivery is at-least-once and
//! consumers deduplicate by event id. Rows are kept after publishing, so
//! read models can be rebuilt by replaying them.

use std::time::Duration;

use anyhow::Context;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use lapin::Confirmation;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::amqp::EventBus;
use super::outbox::Outbox;
use super::topology;
use crate::db::Pool;

pub struct OutboxRelay {
    pub pool: Pool,
    pub bus: EventBus,
    pub outbox: Outbox,
    pub batch_size: i64,
    /// Fallback when no in-process wake-up arrives (rows left by a crash).
    pub poll_interval: Duration,
}

#[derive(diesel::QueryableByName)]
struct PendingEvent {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = Text)]
    envelope: String,
}

impl OutboxRelay {
    pub fn new(pool: Pool, bus: EventBus, outbox: Outbox) -> Self {
        Self { pool, bus, outbox, batch_size: 200, poll_interval: Duration::from_millis(500) }
    }

    /// Runs until `shutdown`; reconnects to RabbitMQ and PostgreSQL as needed.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.bus.run_connected("outbox-relay", &shutdown, |channel| self.publish_until_error(channel, &shutdown)).await;
        Ok(())
    }

    async fn publish_until_error(&self, channel: Channel, shutdown: &CancellationToken) -> anyhow::Result<()> {
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        topology::declare_all(&self.bus, &channel).await?;
        loop {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            let published = self.publish_batch(&channel).await?;
            if published < self.batch_size as usize {
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = self.outbox.woken() => {}
                    _ = tokio::time::sleep(self.poll_interval) => {}
                }
            }
        }
    }

    /// Publishes one batch; returns how many events it published.
    pub async fn publish_batch(&self, channel: &Channel) -> anyhow::Result<usize> {
        let mut conn = self.pool.get().await.context("database pool")?;
        let exchange = self.bus.events_exchange();
        let batch_size = self.batch_size;
        conn.transaction(async |conn| -> anyhow::Result<usize> {
            let pending: Vec<PendingEvent> = diesel::sql_query(
                "SELECT id, event_type, envelope::text AS envelope FROM outbox \
                 WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
            )
            .bind::<diesel::sql_types::BigInt, _>(batch_size)
            .load(conn)
            .await?;
            if pending.is_empty() {
                return Ok(0);
            }
            let mut confirms = Vec::with_capacity(pending.len());
            for event in &pending {
                let properties = BasicProperties::default()
                    .with_message_id(event.id.to_string().into())
                    .with_content_type("application/json".into())
                    .with_delivery_mode(2);
                let confirm = channel
                    .basic_publish(
                        exchange.as_str().into(),
                        event.event_type.as_str().into(),
                        BasicPublishOptions::default(),
                        event.envelope.as_bytes(),
                        properties,
                    )
                    .await?;
                confirms.push((event.id, confirm));
            }
            for (id, confirm) in confirms {
                match confirm.await? {
                    Confirmation::Ack(_) => {}
                    other => anyhow::bail!("broker did not confirm event {id}: {other:?}"),
                }
            }
            let ids: Vec<Uuid> = pending.iter().map(|e| e.id).collect();
            diesel::sql_query("UPDATE outbox SET published_at = now() WHERE id = ANY($1)")
                .bind::<diesel::sql_types::Array<SqlUuid>, _>(&ids)
                .execute(conn)
                .await?;
            tracing::debug!(count = ids.len(), "published outbox events");
            Ok(ids.len())
        })
        .await
    }
}
