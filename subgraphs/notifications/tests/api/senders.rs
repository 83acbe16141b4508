//! Exactly once across replicas: senders racing over the same due
//! deliveries each take different ones (SKIP LOCKED), and a delivery becomes
//! one notification in the transaction that marks it sent.

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jobtracker_notifications::store::Store;

use crate::helpers::*;

#[derive(diesel::QueryableByName)]
struct Counts {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    notifications: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    distinct_deliveries: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pending: i64,
}

#[tokio::test]
async fn senders_racing_over_1000_due_reminders_deliver_each_exactly_once() {
    let app = TestNotifications::spawn().await;
    let (ada, _) = app.user("Ada").await;
    let url = app.database_url();
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    diesel::sql_query(
        "INSERT INTO deliveries (id, owner_id, kind, channel, minutes_before, due_at, title, body, idempotency_key) \
         SELECT gen_random_uuid(), $1, 'INTERVIEW_REMINDER', 'IN_APP', 60, now() - interval '1 second', 'Interview', 'soon', 'race:' || i \
         FROM generate_series(1, 1000) AS i",
    )
    .bind::<diesel::sql_types::Uuid, _>(uuid::Uuid::parse_str(&ada.user_id).unwrap())
    .execute(&mut conn)
    .await
    .unwrap();

    // Two more senders on pools of their own, beside the service's own.
    let mut racers = Vec::new();
    for _ in 0..2 {
        let sender = sender(&app, "smtp://127.0.0.1:1025", 60, 5).await;
        racers.push(tokio::spawn(async move { sender.deliver_due().await.unwrap() }));
    }
    let mut by_racers = 0;
    for racer in racers {
        by_racers += racer.await.unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let counts = loop {
        let counts: Counts = diesel::sql_query(
            "SELECT (SELECT count(*) FROM notifications) AS notifications, \
             (SELECT count(DISTINCT delivery_id) FROM notifications) AS distinct_deliveries, \
             (SELECT count(*) FROM deliveries WHERE state = 'PENDING') AS pending",
        )
        .get_result(&mut conn)
        .await
        .unwrap();
        if counts.pending == 0 || std::time::Instant::now() > deadline {
            break counts;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!((counts.notifications, counts.distinct_deliveries, counts.pending), (1000, 1000, 0));
    assert!(by_racers > 0, "the racers took part ({by_racers} of 1000 at {})", Utc::now());
}

#[tokio::test]
async fn done_deliveries_and_read_notifications_are_pruned_after_the_retention() {
    let app = TestNotifications::spawn().await;
    let (ada, _) = app.user("Ada").await;
    let owner = uuid::Uuid::parse_str(&ada.user_id).unwrap();
    let mut conn = AsyncPgConnection::establish(&app.database_url()).await.unwrap();
    for (key, state, due) in
        [("old-sent", "SENT", "40 days"), ("new-sent", "SENT", "1 day"), ("old-pending", "PENDING", "40 days")]
    {
        diesel::sql_query(format!(
            "INSERT INTO deliveries (id, owner_id, kind, channel, due_at, title, body, idempotency_key, state) \
             VALUES (gen_random_uuid(), $1, 'SYSTEM', 'EMAIL', now() - interval '{due}', 't', 'b', '{key}', '{state}')"
        ))
        .bind::<diesel::sql_types::Uuid, _>(owner)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    for read in ["now() - interval '40 days'", "now() - interval '1 day'", "NULL"] {
        diesel::sql_query(format!(
            "INSERT INTO notifications (id, owner_id, kind, title, body, created_at, read_at, delivery_id) \
             VALUES (gen_random_uuid(), $1, 'SYSTEM', 't', 'b', now() - interval '50 days', {read}, gen_random_uuid())"
        ))
        .bind::<diesel::sql_types::Uuid, _>(owner)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let pool =
        jobtracker_kit::db::bootstrap(&app.stack.env.database("notifications"), jobtracker_notifications::MIGRATIONS)
            .await
            .unwrap();
    let pruned = Store::new(pool, jobtracker_kit::events::Outbox::default())
        .prune(Utc::now() - chrono::Duration::days(30))
        .await
        .unwrap();
    // The old sent delivery and the notification read 40 days ago; a pending
    // delivery, however old, and unread notifications stay.
    assert_eq!(pruned, 2);
}

#[tokio::test]
async fn a_reminder_overdue_past_the_interviews_start_is_not_sent_but_a_late_one_is() {
    let app = TestNotifications::spawn().await;
    let (ada, client) = app.user("Ada").await;
    let owner = uuid::Uuid::parse_str(&ada.user_id).unwrap();
    let mut conn = AsyncPgConnection::establish(&app.database_url()).await.unwrap();
    // Every replica was down: an hour reminder due 61 minutes ago (its interview
    // began a minute ago), and one due 30 minutes ago (it starts in 30).
    for (key, due) in [("begun", "61 minutes"), ("late", "30 minutes")] {
        diesel::sql_query(format!(
            "INSERT INTO deliveries (id, owner_id, kind, channel, minutes_before, due_at, title, body, idempotency_key) \
             VALUES (gen_random_uuid(), $1, 'INTERVIEW_REMINDER', 'IN_APP', 60, now() - interval '{due}', '{key}', 'b', '{key}')"
        ))
        .bind::<diesel::sql_types::Uuid, _>(owner)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let listed = wait_for(&client, |l| total(l) == 1).await;
    assert_eq!(listed["notifications"]["edges"][0]["node"]["title"], "late");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(total(&client.run(LIST, serde_json::json!({})).await.data().clone()), 1);
}
