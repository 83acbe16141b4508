//! `Publisher::transaction`: a write and the events it records commit
//! together or not at all, and the relay is woken once they are committed.

use std::time::Duration;

use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use jobtracker_kit::events::{Envelope, Outbox, OutboxRelay, Publisher};
use jobtracker_kit::{AppError, ErrorCode};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{COUNTED, FAST, Harness};

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl Harness {
    async fn count(&self, table: &str) -> i64 {
        let mut conn = self.pool.get().await.unwrap();
        let count: Count =
            diesel::sql_query(format!("SELECT count(*) AS n FROM {table}")).get_result(&mut conn).await.unwrap();
        count.n
    }
}

fn counted() -> Envelope {
    let user = Uuid::now_v7();
    Envelope::new(COUNTED, user, user, 1, &serde_json::json!({}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_leaves_neither_its_change_nor_its_events() {
    let harness = Harness::new().await;
    let publisher = Publisher::new(harness.pool.clone(), Outbox::default());

    let failed = publisher
        .transaction(async |conn, events| -> Result<(), AppError> {
            diesel::sql_query("INSERT INTO applied (event_id, times) VALUES ($1, 1)")
                .bind::<SqlUuid, _>(Uuid::now_v7())
                .execute(conn)
                .await?;
            events.record(counted());
            Err(AppError::Conflict("refused after writing".into()))
        })
        .await;

    assert_eq!(failed.unwrap_err().code(), ErrorCode::Conflict);
    assert_eq!(harness.count("applied").await, 0, "the change rolled back");
    assert_eq!(harness.count("outbox").await, 0, "and its event with it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_events_are_committed_and_published_without_waiting_for_a_poll() {
    let harness = Harness::new().await;
    let outbox = Outbox::default();
    let publisher = Publisher::new(harness.pool.clone(), outbox.clone());
    let mut relay = OutboxRelay::new(harness.pool.clone(), harness.env.bus.clone(), outbox);
    // Only a wake-up can get the event out within the test's patience.
    relay.poll_interval = Duration::from_secs(600);
    let token = CancellationToken::new();
    let relaying = tokio::spawn(relay.run(token.clone()));
    let consumer = harness.consumer(FAST, &token);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let nothing = publisher.transaction(async |_conn, _events| -> Result<u8, AppError> { Ok(7) }).await;
    let written = publisher
        .transaction(async |_conn, events| -> Result<Uuid, AppError> {
            let event = counted();
            let id = event.id;
            events.record(event);
            Ok(id)
        })
        .await
        .unwrap();

    assert_eq!(nothing.unwrap(), 7, "a write without events commits too");
    assert_eq!(harness.count("outbox").await, 1);
    let tally = harness.wait_for_applied(1).await;
    assert_eq!((tally.events, tally.applications), (1, 1), "event {written} published once, after the wake-up");
    token.cancel();
    relaying.await.unwrap().unwrap();
    consumer.await.unwrap().unwrap();
}
