//! The RabbitMQ topology. Each consumer declares its `QueueSpec` next to its
//! handler, the service table (crates/services) collects them, and every
//! relay declares all of them before its first publish, so an event is never
//! dropped because its consumer has not started yet.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, ExchangeKind};

use super::amqp::EventBus;

/// A durable work queue shared by the replicas of one consumer.
#[derive(Clone, Copy, Debug)]
pub struct QueueSpec {
    pub name: &'static str,
    pub bindings: &'static [&'static str],
}

const QUEUE_EXPIRY_MS: u32 = 60_000;

pub async fn declare_exchanges(bus: &EventBus, channel: &Channel) -> lapin::Result<()> {
    let options = ExchangeDeclareOptions { durable: true, auto_delete: bus.ephemeral, ..Default::default() };
    channel
        .exchange_declare(bus.events_exchange().as_str().into(), ExchangeKind::Topic, options, FieldTable::default())
        .await?;
    channel
        .exchange_declare(
            bus.dead_letter_exchange().as_str().into(),
            ExchangeKind::Direct,
            options,
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

fn queue_arguments(bus: &EventBus) -> FieldTable {
    let mut args = FieldTable::default();
    if bus.ephemeral {
        args.insert(ShortString::from("x-expires"), AMQPValue::LongUInt(QUEUE_EXPIRY_MS));
    }
    args
}

/// Declares a consumer queue, its dead-letter queue and its bindings; returns
/// the queue's full name.
pub async fn declare_queue(bus: &EventBus, channel: &Channel, spec: &QueueSpec) -> lapin::Result<String> {
    declare_exchanges(bus, channel).await?;
    let durable = QueueDeclareOptions { durable: true, ..Default::default() };
    let name = bus.queue(spec.name);
    let dlq = format!("{name}.dlq");
    channel.queue_declare(dlq.as_str().into(), durable, queue_arguments(bus)).await?;
    channel
        .queue_bind(
            dlq.as_str().into(),
            bus.dead_letter_exchange().as_str().into(),
            name.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut args = queue_arguments(bus);
    args.insert(
        ShortString::from("x-dead-letter-exchange"),
        AMQPValue::LongString(bus.dead_letter_exchange().as_str().into()),
    );
    args.insert(ShortString::from("x-dead-letter-routing-key"), AMQPValue::LongString(name.as_str().into()));
    channel.queue_declare(name.as_str().into(), durable, args).await?;
    for key in spec.bindings {
        channel
            .queue_bind(
                name.as_str().into(),
                bus.events_exchange().as_str().into(),
                (*key).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(name)
}

/// Declares the exchanges and every queue of `queues`.
pub async fn declare_all(bus: &EventBus, channel: &Channel, queues: &[QueueSpec]) -> lapin::Result<()> {
    declare_exchanges(bus, channel).await?;
    for spec in queues {
        declare_queue(bus, channel, spec).await?;
    }
    Ok(())
}
