//! The event backbone against the machine's real PostgreSQL and RabbitMQ:
//! outbox → relay (publisher confirms) → durable queue → idempotent consumer.
//! Each test has its own database and its own exchange/queue namespace.

mod outbox;
mod publisher;
mod retries;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use jobtracker_kit::db::{self, Pool};
use jobtracker_kit::events::topology::{self, QueueSpec};
use jobtracker_kit::events::{Consumer, Envelope, EventHandler, HandlerError, HandlerResult, Outbox, OutboxRelay};
use jobtracker_kit::testing::TestEnv;
use lapin::BasicProperties;
use lapin::options::{BasicGetOptions, BasicPublishOptions};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("tests/events/migrations");
const COUNTED: &str = "test.counted";
const QUEUE: QueueSpec = QueueSpec { name: "test.counting", bindings: &[COUNTED] };

/// Counts applications per event id: a double application shows as 2.
/// `delay` slows it down so that interruptions land mid-stream.
struct Counting {
    delay: Duration,
}

const FAST: Counting = Counting { delay: Duration::ZERO };

#[async_trait]
impl EventHandler for Counting {
    async fn handle(&self, conn: &mut AsyncPgConnection, event: &Envelope) -> HandlerResult {
        tokio::time::sleep(self.delay).await;
        diesel::sql_query("INSERT INTO applied (event_id, times) VALUES ($1, 1) ON CONFLICT (event_id) DO UPDATE SET times = applied.times + 1")
            .bind::<SqlUuid, _>(event.id)
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// Refuses every event as permanently invalid, counting its calls: its
/// events must end in the dead-letter queue after one attempt each.
#[derive(Clone, Default)]
struct Refusing {
    calls: Arc<AtomicU32>,
}

#[async_trait]
impl EventHandler for Refusing {
    async fn handle(&self, _conn: &mut AsyncPgConnection, _event: &Envelope) -> HandlerResult {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(HandlerError::permanent(anyhow::anyhow!("this handler refuses everything")))
    }
}

struct Harness {
    env: TestEnv,
    pool: Pool,
}

#[derive(diesel::QueryableByName)]
struct Tally {
    #[diesel(sql_type = BigInt)]
    events: i64,
    #[diesel(sql_type = BigInt)]
    applications: i64,
}

impl Harness {
    async fn new() -> Self {
        let env = TestEnv::new();
        let pool = db::bootstrap(&env.database("events"), MIGRATIONS).await.expect("database");
        let harness = Self { env, pool };
        // Declare the queue before anything is published.
        let connection = harness.env.bus.connect().await.unwrap();
        let channel = connection.create_channel().await.unwrap();
        topology::declare_queue(&harness.env.bus, &channel, &QUEUE).await.unwrap();
        connection.close(200, "declared".into()).await.unwrap();
        harness
    }

    async fn write_events(&self, count: usize) -> Vec<Uuid> {
        let mut conn = self.pool.get().await.unwrap();
        let user = Uuid::now_v7();
        conn.transaction(async |conn| -> anyhow::Result<Vec<Uuid>> {
            let mut ids = Vec::new();
            for version in 1..=count {
                let event = Envelope::new(COUNTED, user, user, version as i64, &serde_json::json!({ "n": version }));
                Outbox::append(conn, &event).await?;
                ids.push(event.id);
            }
            Ok(ids)
        })
        .await
        .unwrap()
    }

    fn relay(&self, token: &CancellationToken) -> JoinHandle<anyhow::Result<()>> {
        let relay = OutboxRelay::new(self.pool.clone(), self.env.bus.clone(), Outbox::default());
        tokio::spawn(relay.run(token.clone()))
    }

    fn consumer(&self, handler: impl EventHandler, token: &CancellationToken) -> JoinHandle<anyhow::Result<()>> {
        let mut consumer = Consumer::new(QUEUE, self.pool.clone(), self.env.bus.clone(), handler);
        consumer.min_backoff = Duration::from_millis(10);
        consumer.max_backoff = Duration::from_millis(50);
        tokio::spawn(consumer.run(token.clone()))
    }

    async fn tally(&self) -> Tally {
        let mut conn = self.pool.get().await.unwrap();
        diesel::sql_query("SELECT count(*) AS events, coalesce(sum(times), 0)::bigint AS applications FROM applied")
            .get_result(&mut conn)
            .await
            .unwrap()
    }

    async fn wait_for_applied(&self, at_least: i64) -> Tally {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let tally = self.tally().await;
            if tally.events >= at_least {
                return tally;
            }
            assert!(tokio::time::Instant::now() < deadline, "only {} of {at_least} events applied", tally.events);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Publishes a raw message to the events exchange, as a redelivery would.
    async fn publish_raw(&self, routing_key: &str, body: &[u8]) {
        let connection = self.env.bus.connect().await.unwrap();
        let channel = connection.create_channel().await.unwrap();
        channel
            .basic_publish(
                self.env.bus.events_exchange().as_str().into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default(),
            )
            .await
            .unwrap();
        connection.close(200, "done".into()).await.unwrap();
    }

    /// How many messages wait in the dead-letter queue (without taking them).
    async fn dead_letters_waiting(&self) -> u32 {
        let connection = self.env.bus.connect().await.unwrap();
        let channel = connection.create_channel().await.unwrap();
        let dlq = format!("{}.dlq", self.env.bus.queue(QUEUE.name));
        let passive = lapin::options::QueueDeclareOptions { passive: true, ..Default::default() };
        let count =
            channel.queue_declare(dlq.as_str().into(), passive, Default::default()).await.unwrap().message_count();
        connection.close(200, "done".into()).await.unwrap();
        count
    }

    /// Takes every message of the dead-letter queue; returns how many.
    async fn dead_letters(&self) -> usize {
        let connection = self.env.bus.connect().await.unwrap();
        let channel = connection.create_channel().await.unwrap();
        let dlq = format!("{}.dlq", self.env.bus.queue(QUEUE.name));
        let mut count = 0;
        while channel.basic_get(dlq.as_str().into(), BasicGetOptions { no_ack: true }).await.unwrap().is_some() {
            count += 1;
        }
        connection.close(200, "done".into()).await.unwrap();
        count
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_event_is_lost_or_applied_twice_when_the_consumer_restarts_mid_stream() {
    let harness = Harness::new().await;
    let ids = harness.write_events(300).await;
    let relay_token = CancellationToken::new();
    let relay = harness.relay(&relay_token);

    let first = CancellationToken::new();
    let consumer = harness.consumer(FAST, &first);
    harness.wait_for_applied(60).await;
    first.cancel();
    consumer.await.unwrap().expect("consumer stops cleanly");
    let at_restart = harness.tally().await.events;
    assert!(at_restart < 300, "the restart must happen mid-stream ({at_restart} applied)");

    let second = CancellationToken::new();
    let consumer = harness.consumer(FAST, &second);
    let tally = harness.wait_for_applied(ids.len() as i64).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tally_after = harness.tally().await;

    assert_eq!(tally.events, 300);
    assert_eq!(tally_after.applications, 300, "every event applied exactly once");
    second.cancel();
    relay_token.cancel();
    consumer.await.unwrap().unwrap();
    relay.await.unwrap().expect("relay stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_event_is_lost_or_applied_twice_when_the_broker_drops_connections() {
    let harness = Harness::new().await;
    harness.write_events(300).await;
    let token = CancellationToken::new();
    let relay = harness.relay(&token);
    let consumer = harness.consumer(Counting { delay: Duration::from_millis(15) }, &token);
    harness.wait_for_applied(30).await;

    // Close every connection of this test's namespace from the broker side.
    let closed = close_connections_named(&harness.env.bus.prefix).await;
    assert!(closed >= 1, "expected live connections to close");
    assert!(harness.tally().await.events < 300, "connections must drop mid-stream");

    let tally = harness.wait_for_applied(300).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(tally.events, 300);
    assert_eq!(harness.tally().await.applications, 300, "every event applied exactly once");
    token.cancel();
    consumer.await.unwrap().unwrap();
    relay.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_event_is_applied_once() {
    let harness = Harness::new().await;
    let user = Uuid::now_v7();
    let event = Envelope::new(COUNTED, user, user, 1, &serde_json::json!({}));
    let body = serde_json::to_vec(&event).unwrap();
    let token = CancellationToken::new();
    let consumer = harness.consumer(FAST, &token);

    harness.publish_raw(COUNTED, &body).await;
    harness.publish_raw(COUNTED, &body).await;
    harness.wait_for_applied(1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert_eq!(harness.tally().await.applications, 1);
    assert_eq!(harness.dead_letters().await, 0, "a duplicate is acked, not dead-lettered");
    token.cancel();
    consumer.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_and_permanently_failing_events_go_to_the_dead_letter_queue_at_once() {
    let harness = Harness::new().await;
    let token = CancellationToken::new();
    let refusing = Refusing::default();
    let consumer = harness.consumer(refusing.clone(), &token);

    harness.publish_raw(COUNTED, b"not json").await;
    let user = Uuid::now_v7();
    let event = Envelope::new(COUNTED, user, user, 1, &serde_json::json!({}));
    harness.publish_raw(COUNTED, &serde_json::to_vec(&event).unwrap()).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut dead = 0;
    while dead < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        dead += harness.dead_letters().await;
    }
    assert_eq!(dead, 2);
    assert_eq!(AtomicU32::load(&refusing.calls, Ordering::SeqCst), 1, "a permanent failure is not retried");
    // The failed event was not recorded as processed: a fixed handler may replay it.
    let mut conn = harness.pool.get().await.unwrap();
    let processed: Tally =
        diesel::sql_query("SELECT count(*) AS events, 0::bigint AS applications FROM processed_events")
            .get_result(&mut conn)
            .await
            .unwrap();
    assert_eq!(processed.events, 0);
    token.cancel();
    consumer.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_marks_what_it_published_and_publishes_it_once() {
    let harness = Harness::new().await;
    harness.write_events(5).await;
    let connection = harness.env.bus.connect().await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel.confirm_select(Default::default()).await.unwrap();
    let relay = OutboxRelay::new(harness.pool.clone(), harness.env.bus.clone(), Outbox::default());

    assert_eq!(relay.publish_batch(&channel).await.unwrap().published, 5);
    assert_eq!(relay.publish_batch(&channel).await.unwrap().published, 0, "published rows are not sent again");

    let queue = harness.env.bus.queue(QUEUE.name);
    let mut queued = 0;
    while channel.basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true }).await.unwrap().is_some() {
        queued += 1;
    }
    assert_eq!(queued, 5);
}

/// `rabbitmqctl close_connection` for every connection with this name.
async fn close_connections_named(name: &str) -> usize {
    let output = tokio::process::Command::new("rabbitmqctl")
        .args(["list_connections", "--silent", "pid", "client_properties"])
        .output()
        .await
        .expect("rabbitmqctl is installed with RabbitMQ");
    let listing = String::from_utf8_lossy(&output.stdout);
    let pids: Vec<String> = listing
        .lines()
        .filter(|line| line.contains(name))
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect();
    for pid in &pids {
        let status = tokio::process::Command::new("rabbitmqctl")
            .args(["close_connection", pid, "test: broker-side drop"])
            .status()
            .await
            .unwrap();
        assert!(status.success());
    }
    pids.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_replicas_fanout_sees_every_event() {
    let harness = Harness::new().await;
    let token = CancellationToken::new();
    let replicas = [
        jobtracker_kit::events::Fanout::spawn(harness.env.bus.clone(), &[COUNTED], token.clone()),
        jobtracker_kit::events::Fanout::spawn(harness.env.bus.clone(), &[COUNTED], token.clone()),
    ];
    for replica in &replicas {
        replica.ready().await;
    }
    let user = Uuid::now_v7();
    let mut receivers: Vec<_> = replicas.iter().map(|r| r.subscribe(user)).collect();
    let mut someone_else = replicas[0].subscribe(Uuid::now_v7());
    let event = Envelope::new(COUNTED, user, user, 1, &serde_json::json!({}));
    harness.publish_raw(COUNTED, &serde_json::to_vec(&event).unwrap()).await;

    for receiver in &mut receivers {
        let received = tokio::time::timeout(Duration::from_secs(5), receiver.recv())
            .await
            .expect("each replica receives it")
            .unwrap();
        assert_eq!(received.id, event.id);
    }
    // Only the event's user's subscribers are woken.
    assert!(someone_else.try_recv().is_err(), "another user's subscriber got it");
    token.cancel();
}
