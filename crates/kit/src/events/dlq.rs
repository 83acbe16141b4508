//! `jobtracker events replay-dlq`: moves dead letters back to the queue they
//! died in, once the cause is fixed (a handler that now understands them).
//!
//! Each message is republished straight into its queue (the default
//! exchange, routed by queue name — not the events exchange, which would
//! hand it to every other consumer again) with publisher confirms, and only
//! then acked on the dead-letter queue: a crash in between leaves a copy in
//! both, which the consumer's idempotency absorbs. Only the messages present
//! when the replay starts are moved, so one that dies again at once cannot
//! keep the replay going forever.

use anyhow::Context;
use lapin::Confirmation;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;

use super::amqp::EventBus;
use super::topology::QueueSpec;

/// The queues `replay-dlq` works on: one by name (`analytics.events`), every
/// queue of a service (`analytics`), or all.
pub fn select_queues(
    queues: &[QueueSpec],
    service: Option<&str>,
    queue: Option<&str>,
) -> anyhow::Result<Vec<QueueSpec>> {
    let selected: Vec<QueueSpec> = queues
        .iter()
        .filter(|spec| queue.is_none_or(|q| spec.name == q))
        .filter(|spec| service.is_none_or(|s| spec.name.split('.').next() == Some(s)))
        .copied()
        .collect();
    if selected.is_empty() {
        let known: Vec<&str> = queues.iter().map(|q| q.name).collect();
        anyhow::bail!("no consumer queue matches; queues are {}", known.join(", "));
    }
    Ok(selected)
}

/// Moves the dead letters of `spec` back to its queue; returns how many.
pub async fn replay(bus: &EventBus, spec: &QueueSpec) -> anyhow::Result<usize> {
    let connection = bus.connect().await.context("connecting to RabbitMQ")?;
    let channel = connection.create_channel().await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    let queue = bus.queue(spec.name);
    let dlq = format!("{queue}.dlq");
    // Passive: an operator's replay never creates queues; a consumer that
    // never ran has no dead letters.
    let passive = QueueDeclareOptions { passive: true, ..Default::default() };
    let waiting = match channel.queue_declare(dlq.as_str().into(), passive, FieldTable::default()).await {
        Ok(declared) => declared.message_count(),
        Err(err) => {
            tracing::info!(queue = %dlq, error = %err, "no dead-letter queue, nothing to replay");
            let _ = connection.close(200, "nothing to replay".into()).await;
            return Ok(0);
        }
    };
    let mut moved = 0;
    while moved < waiting as usize {
        let Some(message) = channel.basic_get(dlq.as_str().into(), BasicGetOptions { no_ack: false }).await? else {
            break;
        };
        let delivery = message.delivery;
        let confirm = channel
            .basic_publish(
                "".into(),
                queue.as_str().into(),
                BasicPublishOptions::default(),
                &delivery.data,
                delivery.properties.clone(),
            )
            .await?
            .await?;
        if !matches!(confirm, Confirmation::Ack(_)) {
            delivery.nack(BasicNackOptions { requeue: true, ..Default::default() }).await?;
            anyhow::bail!("the broker did not take a dead letter back into {queue}: {confirm:?}");
        }
        delivery.ack(BasicAckOptions::default()).await?;
        moved += 1;
    }
    tracing::info!(queue = %queue, moved, "dead letters moved back");
    let _ = connection.close(200, "replayed".into()).await;
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUES: &[QueueSpec] = &[
        QueueSpec { name: "users.accounts", bindings: &["user.registered"] },
        QueueSpec { name: "analytics.events", bindings: &["application.*"] },
    ];

    #[test]
    fn queues_are_selected_by_service_or_name() {
        let names = |s: Option<&str>, q: Option<&str>| -> Vec<&str> {
            select_queues(QUEUES, s, q).unwrap().iter().map(|spec| spec.name).collect()
        };
        assert_eq!(names(Some("analytics"), None), ["analytics.events"]);
        assert_eq!(names(None, Some("users.accounts")), ["users.accounts"]);
        assert_eq!(names(None, None).len(), QUEUES.len());
        assert!(select_queues(QUEUES, Some("nobody"), None).is_err());
    }
}
