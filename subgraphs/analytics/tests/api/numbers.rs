use serde_json::json;

use crate::helpers::{TestAnalytics, count_of, scenario, scenario_settled};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_follow_a_scripted_scenario() {
    let app = TestAnalytics::spawn().await;
    let ada = app.user("Ada").await;
    scenario(&ada).await;

    let a = ada.analytics_when(scenario_settled).await;
    assert_eq!(a["totalApplications"], 4);
    assert_eq!(
        a["statusBreakdown"],
        json!([
            { "status": "SAVED", "count": 1 }, { "status": "APPLIED", "count": 1 }, { "status": "INTERVIEW", "count": 0 },
            { "status": "OFFER", "count": 1 }, { "status": "REJECTED", "count": 1 },
        ])
    );
    for (category, count) in [("Frontend", 1), ("Backend", 1), ("Data", 1), ("QA", 1), ("Mobile", 0), ("Other", 0)] {
        assert_eq!(count_of(&a["positionDistribution"], "label", category), count, "{category}");
    }
    assert_eq!(a["positionDistribution"].as_array().unwrap().len(), 13, "every category, zeros included");
    assert_eq!(
        a["locationDistribution"],
        json!([{ "label": "Berlin", "count": 2 }, { "label": "Remote", "count": 2 }])
    );
    assert_eq!(
        a["funnel"],
        json!({ "applied": 3, "interview": 1, "offer": 1, "appliedToInterviewRate": 1.0 / 3.0, "interviewToOfferRate": 1.0, "appliedToOfferRate": 1.0 / 3.0 })
    );
    assert_eq!(a["responseRate"], json!(2.0 / 3.0));
    assert_eq!(a["medianDaysToFirstResponse"], 0.0);
    assert_eq!(a["interviewCount"], 1, "the cancelled interview is not counted");
    let months = a["applicationsPerMonth"].as_array().unwrap();
    assert_eq!(months.len(), 12, "the last 12 months by default");
    assert_eq!(months.last().unwrap()["count"], 4);
    assert!(months[..11].iter().all(|m| m["count"] == 0), "zero months included");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn months_in_a_range_include_empty_ones_and_bad_ranges_are_refused() {
    let app = TestAnalytics::spawn().await;
    let ada = app.user("Ada").await;
    let query = "query($f: Date, $t: Date) { analytics { applicationsPerMonth(from: $f, to: $t) { month count } } }";
    let range = ada.analytics.run(query, json!({ "f": "2025-11-20", "t": "2026-02-01" })).await;
    assert_eq!(
        range.data()["analytics"]["applicationsPerMonth"],
        json!([{ "month": "2025-11", "count": 0 }, { "month": "2025-12", "count": 0 }, { "month": "2026-01", "count": 0 }, { "month": "2026-02", "count": 0 }])
    );
    let backwards = ada.analytics.run(query, json!({ "f": "2026-03-01", "t": "2026-01-01" })).await;
    assert_eq!(backwards.error_field(), Some("from"));
    let not_a_date = ada.analytics.run(query, json!({ "f": "2026-13-01" })).await;
    assert!(!not_a_date.errors().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_are_private() {
    let app = TestAnalytics::spawn().await;
    let ada = app.user("Ada").await;
    let mallory = app.user("Mallory").await;
    scenario(&ada).await;
    ada.analytics_when(scenario_settled).await;

    let theirs = mallory.analytics().await;
    assert_eq!(theirs["totalApplications"], 0);
    assert_eq!(theirs["funnel"]["applied"], 0);
    assert_eq!(theirs["responseRate"], json!(null));
    let anonymous = jobtracker_testkit::Gql::new(app.stack["analytics"].graphql_url())
        .run("{ analytics { totalApplications } }", json!({}))
        .await;
    assert_eq!(anonymous.error_code(), "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extreme_month_ranges_are_refused_before_any_work() {
    let app = TestAnalytics::spawn().await;
    let ada = app.user("Ada").await;
    let query = "query($f: Date, $t: Date) { analytics { applicationsPerMonth(from: $f, to: $t) { month count } } }";
    // A second of CPU per field before the range check, and a panic, before the fix.
    for (from, to, field) in [
        ("-262143-01-01", "+262142-11-30", "from"),
        ("+262142-12-01", "+262142-12-31", "from"),
        ("2026-01-01", "+262142-12-31", "to"),
        ("1990-01-01", "2026-01-01", "to"),
    ] {
        let started = std::time::Instant::now();
        let response = ada.analytics.run(query, json!({ "f": from, "t": to })).await;
        assert_eq!(response.error_code(), "BAD_USER_INPUT", "{from}..{to}: {}", response.body);
        assert_eq!(response.error_field(), Some(field), "{from}..{to}");
        assert!(started.elapsed() < std::time::Duration::from_millis(500), "{from}..{to}: {:?}", started.elapsed());
    }
    // The service is still up, and the widest allowed range answers.
    let widest = ada.analytics.run(query, json!({ "f": "2081-01-01", "t": "2100-12-31" })).await;
    assert_eq!(widest.data()["analytics"]["applicationsPerMonth"].as_array().unwrap().len(), 240);
}
