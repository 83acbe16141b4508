//! The outbox stays bounded: no oversized event is written, a row the broker
//! refuses is set aside without holding up the rows after it, and published
//! rows are pruned without losing the newest state of any live aggregate.

use std::time::{Duration, Instant};

use diesel::sql_types::{Bool, Integer, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use jobtracker_kit::events::outbox::{AppendError, MAX_EVENT_BYTES};
use jobtracker_kit::events::relay::{MAX_REFUSALS, prune};
use jobtracker_kit::events::{Envelope, Outbox, OutboxRelay};
use lapin::options::{QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{COUNTED, FAST, Harness};

#[derive(Debug, PartialEq, diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Bool)]
    published: bool,
    #[diesel(sql_type = Bool)]
    set_aside: bool,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
}

impl Harness {
    async fn rows(&self) -> Vec<Row> {
        let mut conn = self.pool.get().await.unwrap();
        diesel::sql_query(
            "SELECT id, published_at IS NOT NULL AS published, failed_at IS NOT NULL AS set_aside, attempts, last_error \
             FROM outbox ORDER BY seq",
        )
        .load(&mut conn)
        .await
        .unwrap()
    }

    async fn append(&self, events: &[&Envelope]) {
        let mut conn = self.pool.get().await.unwrap();
        conn.transaction(async |conn| -> Result<(), AppendError> {
            for event in events {
                Outbox::append(conn, event).await?;
            }
            Ok(())
        })
        .await
        .unwrap();
    }
}

fn sized(event_type: &str, bytes: usize) -> Envelope {
    let user = Uuid::now_v7();
    Envelope::new(event_type, user, user, 1, &serde_json::json!({ "text": "x".repeat(bytes) }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_above_the_size_limit_is_refused_and_nothing_is_written() {
    let harness = Harness::new().await;
    let mut conn = harness.pool.get().await.unwrap();

    let refused = Outbox::append(&mut conn, &sized(COUNTED, MAX_EVENT_BYTES)).await;
    let fits = Outbox::append(&mut conn, &sized(COUNTED, MAX_EVENT_BYTES - 400)).await;

    assert!(matches!(refused, Err(AppendError::TooLarge { bytes, .. }) if bytes > MAX_EVENT_BYTES), "{refused:?}");
    fits.expect("an event under the limit is written");
    assert_eq!(harness.rows().await.len(), 1, "only the event that fits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_the_broker_refuses_is_set_aside_and_later_rows_are_still_published() {
    let harness = Harness::new().await;
    // A queue that rejects any message over 1 KiB (the broker nacks it).
    const BIG: &str = "test.big";
    let connection = harness.env.bus.connect().await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let small = harness.env.bus.queue("test.small");
    let mut args = FieldTable::default();
    args.insert("x-max-length-bytes".into(), AMQPValue::LongInt(1024));
    args.insert("x-overflow".into(), AMQPValue::LongString("reject-publish".into()));
    args.insert("x-expires".into(), AMQPValue::LongUInt(60_000));
    channel.queue_declare(small.as_str().into(), QueueDeclareOptions::default(), args).await.unwrap();
    let exchange = harness.env.bus.events_exchange();
    channel
        .queue_bind(
            small.as_str().into(),
            exchange.as_str().into(),
            BIG.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let big = sized(BIG, 4_000);
    let later: Vec<Envelope> = (0..5).map(|_| sized(COUNTED, 10)).collect();
    harness.append(&[&big]).await;
    harness.append(&later.iter().collect::<Vec<_>>()).await;

    let token = CancellationToken::new();
    let relay = harness.relay(&token);
    let consumer = harness.consumer(FAST, &token);
    let tally = harness.wait_for_applied(5).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let big_row = loop {
        let rows = harness.rows().await;
        let row = rows.into_iter().find(|r| r.id == big.id).unwrap();
        if row.set_aside || Instant::now() > deadline {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    assert_eq!(tally.events, 5, "the rows after the refused one were published and consumed");
    assert!(big_row.set_aside && !big_row.published, "{big_row:?}");
    assert_eq!(big_row.attempts, MAX_REFUSALS);
    assert_eq!(big_row.last_error.as_deref(), Some("refused by the broker 3 times"));
    let rows = harness.rows().await;
    assert!(rows.iter().filter(|r| r.id != big.id).all(|r| r.published && !r.set_aside));
    token.cancel();
    relay.await.unwrap().unwrap();
    consumer.await.unwrap().unwrap();
    let _ = connection.close(200, "done".into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_that_is_not_an_envelope_is_set_aside() {
    let harness = Harness::new().await;
    let good = sized(COUNTED, 10);
    let mut conn = harness.pool.get().await.unwrap();
    let broken = Uuid::now_v7();
    diesel::sql_query(
        "INSERT INTO outbox (id, event_type, envelope, aggregate_id, aggregate_version) VALUES ($1, 'test.counted', '{\"no\": \"envelope\"}', $1, 1)",
    )
    .bind::<SqlUuid, _>(broken)
    .execute(&mut conn)
    .await
    .unwrap();
    harness.append(&[&good]).await;
    let connection = harness.env.bus.connect().await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel.confirm_select(Default::default()).await.unwrap();
    let relay = OutboxRelay::new(harness.pool.clone(), harness.env.bus.clone(), Outbox::default());

    let report = relay.publish_batch(&channel).await.unwrap();

    assert_eq!((report.published, report.set_aside), (1, 1));
    let rows = harness.rows().await;
    assert!(rows[0].set_aside && rows[0].last_error.as_deref().unwrap_or("").starts_with("not an event envelope"));
    assert!(rows[1].published);
    assert_eq!(relay.publish_batch(&channel).await.unwrap().set_aside, 0, "a set-aside row is not tried again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_keeps_unpublished_rows_and_the_newest_row_of_every_live_aggregate() {
    let harness = Harness::new().await;
    let user = Uuid::now_v7();
    let [a, b, c, d, e] = [(); 5].map(|_| Uuid::now_v7());
    let at = |event_type: &str, aggregate: Uuid, version: i64| {
        Envelope::new(event_type, user, aggregate, version, &serde_json::json!({ "v": version }))
    };
    // a: three versions; b: two and its deletion; c: published recently;
    // e: published, then a newer version that was set aside; d: not published.
    let (a1, a2, a3) = (at(COUNTED, a, 1), at(COUNTED, a, 2), at(COUNTED, a, 3));
    let (b1, b2, b3) = (at(COUNTED, b, 1), at(COUNTED, b, 2), at("test.deleted", b, 3));
    let (c1, e1, e2) = (at(COUNTED, c, 1), at(COUNTED, e, 1), at(COUNTED, e, 2));
    harness.append(&[&a1, &a2, &a3, &b1, &b2, &b3, &c1, &e1, &e2]).await;
    let mut conn = harness.pool.get().await.unwrap();
    diesel::sql_query("UPDATE outbox SET failed_at = now(), last_error = 'refused' WHERE id = $1")
        .bind::<SqlUuid, _>(e2.id)
        .execute(&mut conn)
        .await
        .unwrap();
    let connection = harness.env.bus.connect().await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel.confirm_select(Default::default()).await.unwrap();
    let relay = OutboxRelay::new(harness.pool.clone(), harness.env.bus.clone(), Outbox::default());
    assert_eq!(relay.publish_batch(&channel).await.unwrap().published, 8);
    let d1 = at(COUNTED, d, 1);
    harness.append(&[&d1]).await;
    diesel::sql_query("UPDATE outbox SET published_at = now() - interval '10 days' WHERE id <> $1")
        .bind::<SqlUuid, _>(c1.id)
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query("UPDATE outbox SET published_at = NULL WHERE id = $1 OR id = $2")
        .bind::<SqlUuid, _>(d1.id)
        .bind::<SqlUuid, _>(e2.id)
        .execute(&mut conn)
        .await
        .unwrap();

    // Two replicas pruning at once.
    let week = Duration::from_secs(168 * 3600);
    let (first, second) = tokio::join!(prune(&harness.pool, week), prune(&harness.pool, week));
    let deleted = first.unwrap() + second.unwrap();

    assert_eq!(deleted, 5, "a1, a2 and all of the deleted b");
    let kept: Vec<Uuid> = harness.rows().await.iter().map(|r| r.id).collect();
    assert_eq!(kept, [a3.id, c1.id, e1.id, e2.id, d1.id]);
    assert_eq!(prune(&harness.pool, week).await.unwrap(), 0, "nothing more to prune");
    let _ = connection.close(200, "done".into()).await;
}
