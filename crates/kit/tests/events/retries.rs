//! Transient failures are waited out, permanent ones dead-lettered, and dead
//! letters can be moved back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jobtracker_kit::events::{Envelope, EventHandler, HandlerError, HandlerResult, dlq};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{COUNTED, Counting, FAST, Harness, QUEUE};

/// Fails transiently `failures` times, then counts like `Counting`.
#[derive(Clone)]
struct Flaky {
    failures: u32,
    calls: Arc<AtomicU32>,
}

#[async_trait]
impl EventHandler for Flaky {
    async fn handle(&self, conn: &mut AsyncPgConnection, event: &Envelope) -> HandlerResult {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err(HandlerError::transient(anyhow::anyhow!("the database is restarting")));
        }
        FAST.handle(conn, event).await
    }
}

/// Refuses events as malformed until it is `fixed`.
#[derive(Clone, Default)]
struct StrictUntilFixed {
    fixed: Arc<AtomicBool>,
}

#[async_trait]
impl EventHandler for StrictUntilFixed {
    async fn handle(&self, conn: &mut AsyncPgConnection, event: &Envelope) -> HandlerResult {
        if !AtomicBool::load(&self.fixed, Ordering::SeqCst) {
            return Err(HandlerError::permanent(anyhow::anyhow!("unknown payload")));
        }
        FAST.handle(conn, event).await
    }
}

fn event() -> Envelope {
    let user = Uuid::now_v7();
    Envelope::new(COUNTED, user, user, 1, &serde_json::json!({}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_is_retried_until_the_event_is_applied_once() {
    let harness = Harness::new().await;
    let token = CancellationToken::new();
    let flaky = Flaky { failures: 40, calls: Arc::default() };
    let consumer = harness.consumer(flaky.clone(), &token);

    harness.publish_raw(COUNTED, &serde_json::to_vec(&event()).unwrap()).await;
    let tally = harness.wait_for_applied(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert_eq!(AtomicU32::load(&flaky.calls, Ordering::SeqCst), 41, "40 transient failures, then applied");
    assert_eq!((tally.events, harness.tally().await.applications), (1, 1), "applied exactly once");
    assert_eq!(harness.dead_letters_waiting().await, 0, "nothing dead-lettered");
    token.cancel();
    consumer.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_wait_out_a_database_outage_and_are_applied_once() {
    let harness = Harness::new().await;
    let token = CancellationToken::new();
    let consumer = harness.consumer(Counting { delay: Duration::ZERO }, &token);
    harness.publish_raw(COUNTED, &serde_json::to_vec(&event()).unwrap()).await;
    harness.wait_for_applied(1).await;

    // The database refuses every connection and its sessions are killed,
    // as during a PostgreSQL restart: the pool cannot hand out a connection.
    let database = harness.env.database("events");
    let mut admin = AsyncPgConnection::establish(&format!("{}/postgres", database.base_url)).await.unwrap();
    let block = |allow: bool| format!("ALTER DATABASE \"{}\" WITH ALLOW_CONNECTIONS {allow}", database.name);
    diesel::sql_query(block(false)).execute(&mut admin).await.unwrap();
    diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
        database.name
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let events: Vec<Envelope> = (0..20).map(|_| event()).collect();
    for event in &events {
        harness.publish_raw(COUNTED, &serde_json::to_vec(event).unwrap()).await;
    }
    let outage = Duration::from_secs(4);
    tokio::time::sleep(outage).await;
    assert_eq!(harness.dead_letters_waiting().await, 0, "nothing dead-lettered during the outage");

    let restored = Instant::now();
    diesel::sql_query(block(true)).execute(&mut admin).await.unwrap();
    let tally = harness.wait_for_applied(21).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    println!("outage {outage:?}; all 20 events applied {:?} after the database came back", restored.elapsed());
    assert_eq!((tally.events, harness.tally().await.applications), (21, 21), "each applied exactly once");
    assert_eq!(harness.dead_letters_waiting().await, 0);
    token.cancel();
    consumer.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_replayed_after_a_fix_is_applied() {
    let harness = Harness::new().await;
    let token = CancellationToken::new();
    let handler = StrictUntilFixed::default();
    let consumer = harness.consumer(handler.clone(), &token);
    let event = event();
    harness.publish_raw(COUNTED, &serde_json::to_vec(&event).unwrap()).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while harness.dead_letters_waiting().await < 1 {
        assert!(Instant::now() < deadline, "the malformed event was not dead-lettered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(harness.tally().await.events, 0);

    handler.fixed.store(true, Ordering::SeqCst);
    let moved = dlq::replay(&harness.env.bus, &QUEUE).await.unwrap();

    assert_eq!(moved, 1);
    assert_eq!(harness.wait_for_applied(1).await.applications, 1, "applied once after the replay");
    assert_eq!(harness.dead_letters_waiting().await, 0);
    token.cancel();
    consumer.await.unwrap().unwrap();
}
