//! Events stay small however often an application changes, and pruning the
//! outboxes does not change what a rebuild yields.

use std::time::Duration;

use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jobtracker_kit::db;
use jobtracker_kit::events::contracts::{ApplicationSnapshot, ApplicationStatusChanged, StatusChangeSnapshot};
use jobtracker_kit::events::relay::prune;
use jobtracker_testkit::TestEnv;
use jobtracker_testkit::events;
use serde_json::{Value, json};

use crate::helpers::{TestAnalytics, count_of, scenario, scenario_settled};

/// Well above one event with a 1 000-character note, far below the
/// 486 KiB the last of these events weighed when events carried the history.
const SMALL_EVENT_BYTES: usize = 4 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_status_changes_with_long_notes_publish_small_events_and_right_numbers() {
    let app = TestAnalytics::spawn().await;
    let ada = app.user("Ada").await;
    let id = ada.create("Acme", "Backend Engineer", "Berlin", "APPLIED").await;
    let note = "n".repeat(1_000);
    let change = "mutation($id: ID!, $s: ApplicationStatus!, $n: String) { changeApplicationStatus(id: $id, status: $s, note: $n) { id } }";
    for i in 1..=200 {
        let status = if i == 200 {
            "OFFER"
        } else if i % 2 == 1 {
            "INTERVIEW"
        } else {
            "APPLIED"
        };
        ada.applications.run(change, json!({ "id": id, "s": status, "n": note })).await.data();
    }
    let a = ada.analytics_when(|a| count_of(&a["statusBreakdown"], "status", "OFFER") == 1).await;

    let published = events::published(&app.stack.env, "applications").await;
    let sizes: Vec<usize> = published.iter().map(|e| serde_json::to_vec(e).unwrap().len()).collect();
    let (total, max) = (sizes.iter().sum::<usize>(), *sizes.iter().max().unwrap());
    println!("201 events: {total} bytes in all, the largest {max} bytes, the last {} bytes", sizes[200]);
    assert_eq!(published.len(), 201);
    assert!(max <= SMALL_EVENT_BYTES, "largest event {max} bytes");
    assert!(sizes[200] <= sizes[10] + 64, "event size does not grow with the changes: {} vs {}", sizes[200], sizes[10]);

    // The numbers: as the whole history gives them.
    assert_eq!(a["totalApplications"], 1);
    assert_eq!(a["funnel"]["applied"], 1);
    assert_eq!(a["funnel"]["interview"], 1);
    assert_eq!(a["funnel"]["offer"], 1);
    assert_eq!(a["responseRate"], 1.0);
    assert_eq!(a["medianDaysToFirstResponse"], 0.0);
    let stage =
        |status: &str| a["medianDaysInStage"].as_array().unwrap().iter().find(|s| s["status"] == status).cloned();
    assert_eq!(stage("APPLIED"), Some(json!({ "status": "APPLIED", "medianDays": 0.0, "samples": 100 })));
    assert_eq!(stage("INTERVIEW"), Some(json!({ "status": "INTERVIEW", "medianDays": 0.0, "samples": 100 })));
    // And the last event's digest contributes exactly what the full history would.
    let history = ada
        .applications
        .run("query($id: ID!) { application(id: $id) { statusHistory { from to at note } } }", json!({ "id": id }))
        .await
        .data()["application"]["statusHistory"]
        .clone();
    let history: Vec<StatusChangeSnapshot> = serde_json::from_value(history).unwrap();
    assert_eq!(history.len(), 201);
    let last: ApplicationStatusChanged = published[200].payload().unwrap();
    let from_history = ApplicationSnapshot { status_history: history, status_digest: None, ..last.application.clone() };
    assert_eq!(
        jobtracker_analytics::model::contribution(&last.application),
        jobtracker_analytics::model::contribution(&from_history)
    );
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

async fn outbox_rows(env: &TestEnv, service: &str) -> i64 {
    let mut conn = AsyncPgConnection::establish(&env.database(service).url()).await.unwrap();
    diesel::sql_query("SELECT count(*) AS count FROM outbox").get_result::<Count>(&mut conn).await.unwrap().count
}

/// Makes every published row of a service's outbox 30 days old, then prunes
/// it with the default retention (a week); returns how many rows went.
async fn age_and_prune(env: &TestEnv, service: &str) -> usize {
    let mut conn = AsyncPgConnection::establish(&env.database(service).url()).await.unwrap();
    // The relay marks rows after the broker's confirm, possibly after they were consumed.
    let unpublished = "SELECT count(*) AS count FROM outbox WHERE published_at IS NULL";
    while diesel::sql_query(unpublished).get_result::<Count>(&mut conn).await.unwrap().count > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    diesel::sql_query("UPDATE outbox SET published_at = now() - interval '30 days' WHERE published_at IS NOT NULL")
        .execute(&mut conn)
        .await
        .unwrap();
    let pool = db::bootstrap(&env.database(service), db::EVENT_MIGRATIONS).await.unwrap();
    prune(&pool, Duration::from_secs(168 * 3600)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_after_pruning_yields_identical_numbers() {
    let app = TestAnalytics::spawn().await;
    let ada = app.user("Ada").await;
    scenario(&ada).await;
    let before = ada.analytics_when(scenario_settled).await;
    let env = &app.stack.env;
    let rows_before = (outbox_rows(env, "applications").await, outbox_rows(env, "interviews").await);

    let pruned = (age_and_prune(env, "applications").await, age_and_prune(env, "interviews").await);
    let rows_after = (outbox_rows(env, "applications").await, outbox_rows(env, "interviews").await);
    let report = jobtracker_analytics::rebuild::rebuild(
        &env.database("analytics"),
        &[env.database("applications"), env.database("interviews")],
    )
    .await
    .unwrap();

    println!("outbox rows {rows_before:?} → pruned {pruned:?} → kept {rows_after:?}; rebuild {report:?}");
    // Four live applications and two interviews keep their newest row each;
    // the deleted application's rows all go.
    assert_eq!(rows_after, (4, 2));
    assert_eq!(rows_before.0 + rows_before.1 - rows_after.0 - rows_after.1, (pruned.0 + pruned.1) as i64);
    assert_eq!(report.aggregates, 6);
    let after: Value = ada.analytics().await;
    assert_eq!(after, before, "identical numbers after pruning and rebuilding");
}
