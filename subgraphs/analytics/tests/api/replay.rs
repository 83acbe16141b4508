use std::time::Duration;

use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jobtracker_analytics::EVENTS_QUEUE as ANALYTICS_EVENTS;
use jobtracker_kit::events::contracts::APPLICATION_STATUS_CHANGED;
use jobtracker_kit::events::{Envelope, dlq};
use jobtracker_testkit::events;
use uuid::Uuid;

use crate::helpers::{TestAnalytics, scenario, scenario_settled};

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// Every application and interview event the services published, in order.
async fn published(app: &TestAnalytics) -> Vec<Envelope> {
    let mut events = events::published(&app.stack.env, "applications").await;
    events.extend(events::published(&app.stack.env, "interviews").await);
    events
}

async fn processed(app: &TestAnalytics) -> i64 {
    let mut conn = AsyncPgConnection::establish(&app.stack.env.database("analytics").url()).await.unwrap();
    let count: Count =
        diesel::sql_query("SELECT count(*) AS count FROM processed_events").get_result(&mut conn).await.unwrap();
    count.count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_or_out_of_order_events_never_double_count() {
    let app = TestAnalytics::spawn().await;
    let ada = app.user("Ada").await;
    scenario(&ada).await;
    let before = ada.analytics_when(scenario_settled).await;
    let events = published(&app).await;
    assert!(events.len() >= 10);
    let processed_before = processed(&app).await;

    // Redelivery: the same events again; out of order: the same changes as
    // new messages, newest first (stale versions).
    events::republish(&app.stack.env.bus, events.clone()).await;
    events::republish(&app.stack.env.bus, events.iter().rev().map(|e| Envelope { id: Uuid::now_v7(), ..e.clone() }))
        .await;

    // Wait until every new message has been consumed (duplicates add no row).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while processed(&app).await < processed_before + events.len() as i64 {
        assert!(tokio::time::Instant::now() < deadline, "replayed events not consumed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ada.analytics().await, before, "numbers unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuilding_from_the_outboxes_yields_identical_numbers() {
    let app = TestAnalytics::spawn().await;
    let ada = app.user("Ada").await;
    let grace = app.user("Grace").await;
    scenario(&ada).await;
    grace.create("Globex", "Machine Learning Engineer", "Remote", "APPLIED").await;
    let before = ada.analytics_when(scenario_settled).await;
    let grace_before = grace.analytics_when(|a| a["totalApplications"] == 1).await;

    let env = &app.stack.env;
    let report = jobtracker_analytics::rebuild::rebuild(
        &env.database("analytics"),
        &[env.database("applications"), env.database("interviews")],
    )
    .await
    .unwrap();

    assert!(report.events >= 12 && report.aggregates >= 7, "{report:?}");
    assert_eq!(ada.analytics().await, before);
    assert_eq!(grace.analytics().await, grace_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_with_an_unknown_status_is_dead_lettered_and_counts_nothing() {
    let app = TestAnalytics::spawn().await;
    let ada = app.user("Ada").await;
    let id = ada.create("Acme", "Backend Engineer", "Berlin", "SAVED").await;
    ada.move_to(&id, "APPLIED").await;
    let before = ada.analytics_when(|a| a["funnel"]["applied"] == 1).await;
    let processed_before = processed(&app).await;

    // A newer version of the application in a status analytics does not know.
    let mut poisoned = published(&app).await.into_iter().rfind(|e| e.event_type == APPLICATION_STATUS_CHANGED).unwrap();
    poisoned.id = Uuid::now_v7();
    poisoned.aggregate_version += 1;
    poisoned.payload["to"] = "ARCHIVED".into();
    poisoned.payload["application"]["status"] = "ARCHIVED".into();
    events::republish(&app.stack.env.bus, [poisoned]).await;

    // Dead-lettered at once (not retried): the replay finds it there.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while dlq::replay(&app.stack.env.bus, &ANALYTICS_EVENTS).await.unwrap() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the event with an unknown status was not dead-lettered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(processed(&app).await, processed_before, "never recorded as processed");
    assert_eq!(ada.analytics().await, before, "numbers unchanged");
}
