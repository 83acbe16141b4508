//! Watching what a service publishes: an exclusive queue bound to the test's
//! events exchange.

use std::time::Duration;

use futures::StreamExt;
use jobtracker_kit::events::Envelope;
use jobtracker_kit::events::amqp::EventBus;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;

pub struct EventTap {
    _connection: lapin::Connection,
    deliveries: lapin::Consumer,
}

impl EventTap {
    /// Starts receiving events whose type matches `pattern` (`application.*`).
    pub async fn start(bus: &EventBus, pattern: &str) -> Self {
        let connection = bus.connect().await.expect("RabbitMQ");
        let channel = connection.create_channel().await.unwrap();
        jobtracker_kit::events::topology::declare_exchanges(bus, &channel).await.unwrap();
        let options = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
        let queue = channel.queue_declare("".into(), options, FieldTable::default()).await.unwrap();
        channel
            .queue_bind(
                queue.name().clone(),
                bus.events_exchange().as_str().into(),
                pattern.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        let consume = BasicConsumeOptions { no_ack: true, ..Default::default() };
        let deliveries =
            channel.basic_consume(queue.name().clone(), "".into(), consume, FieldTable::default()).await.unwrap();
        Self { _connection: connection, deliveries }
    }

    /// The next `count` events, failing after 10 s.
    pub async fn take(&mut self, count: usize) -> Vec<Envelope> {
        let mut events = Vec::with_capacity(count);
        while events.len() < count {
            let delivery = tokio::time::timeout(Duration::from_secs(10), self.deliveries.next())
                .await
                .unwrap_or_else(|_| panic!("only {} of {count} events within 10 s", events.len()))
                .expect("delivery stream open")
                .expect("delivery");
            events.push(serde_json::from_slice(&delivery.data).expect("an event envelope"));
        }
        events
    }
}

/// Every event a service of the test published, from its outbox, in order.
pub async fn published(env: &crate::TestEnv, service: &str) -> Vec<Envelope> {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        envelope: String,
    }
    let mut conn = AsyncPgConnection::establish(&env.database(service).url()).await.expect("the service's database");
    let rows: Vec<Row> =
        diesel::sql_query("SELECT envelope::text AS envelope FROM outbox ORDER BY seq").load(&mut conn).await.unwrap();
    rows.iter().map(|r| serde_json::from_str(&r.envelope).expect("an envelope")).collect()
}

/// Publishes events to the test's exchange again, as a redelivery would.
pub async fn republish(bus: &EventBus, events: impl IntoIterator<Item = Envelope>) {
    let connection = bus.connect().await.expect("RabbitMQ");
    let channel = connection.create_channel().await.unwrap();
    channel.confirm_select(Default::default()).await.unwrap();
    for event in events {
        channel
            .basic_publish(
                bus.events_exchange().as_str().into(),
                event.event_type.as_str().into(),
                Default::default(),
                &serde_json::to_vec(&event).unwrap(),
                lapin::BasicProperties::default(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let _ = connection.close(200, "done".into()).await;
}
