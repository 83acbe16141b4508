//! Metrics: the router's `/metrics` and every service's, scraped after real
//! traffic and read with a Prometheus text-format parser.

use std::collections::BTreeMap;
use std::time::Duration;

use jobtracker_testkit::RouterOptions;
use prometheus_parse::{Scrape, Value};
use serde_json::json;

use crate::helpers::{System, scrape, total};

fn names(scrape: &Scrape) -> Vec<&str> {
    let mut names: Vec<&str> = scrape.samples.iter().map(|s| s.metric.as_str()).collect();
    names.dedup();
    names
}

/// Scrapes until `check` holds (sampled gauges and asynchronous consumers
/// take a moment), failing with the last scrape's metric names.
async fn scrape_until(url: &str, what: &str, check: impl Fn(&Scrape) -> bool) -> Scrape {
    let mut last = scrape(url).await;
    for _ in 0..100 {
        if check(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        last = scrape(url).await;
    }
    panic!("{url}: {what} never showed; metrics: {:?}", names(&last));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_and_every_service_expose_prometheus_metrics_of_their_own() {
    let options = RouterOptions {
        env: vec![
            ("RATE_LIMIT_PER_SECOND".into(), "0.5".into()),
            ("RATE_LIMIT_BURST".into(), "20".into()),
            ("ROUTER_METRICS_OPERATION_NAMES".into(), "true".into()),
        ],
        ..Default::default()
    };
    let system = System::start_with(options).await;
    let (_, ada) = system.sign_up("Ada Lovelace").await;
    let created = ada
        .run(
            "mutation Create($i: CreateApplicationInput!) { createApplication(input: $i) { id } }",
            json!({ "i": { "company": "Acme", "position": "Backend Engineer", "status": "APPLIED" } }),
        )
        .await;
    let id = created.data()["createApplication"]["id"].as_str().unwrap().to_string();
    let changed = ada
        .run(
            "mutation Advance($id: ID!) { changeApplicationStatus(id: $id, status: INTERVIEW) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert!(changed.errors().is_empty(), "{}", changed.body);
    let missing =
        ada.run("query Missing { application(id: \"00000000-0000-0000-0000-000000000000\") { id } }", json!({})).await;
    assert_eq!(missing.error_code(), "NOT_FOUND");
    // The anonymous bucket of this address (registration took one token) runs dry.
    let mut refused = 0;
    for _ in 0..25 {
        refused += usize::from(system.gql.run("{ __typename }", json!({})).await.status == 429);
    }
    assert!(refused > 0);

    let router = scrape(&system.router.url()).await;
    let operation =
        |name: &str| total(&router, "http_server_request_duration_seconds_count", &[("graphql_operation_name", name)]);
    assert_eq!(operation("Create"), Some(1.0), "requests by operation name: {:?}", names(&router));
    assert!(
        router
            .samples
            .iter()
            .any(|s| s.metric == "http_server_request_duration_seconds" && matches!(s.value, Value::Histogram(_))),
        "a latency histogram"
    );
    for subgraph in ["auth", "applications"] {
        assert!(
            total(&router, "http_client_request_duration_seconds_count", &[("subgraph_name", subgraph)])
                .is_some_and(|n| n >= 1.0),
            "subgraph fetch latency of {subgraph}: {:?}",
            names(&router)
        );
    }
    assert!(total(&router, "jobtracker_router_rate_limited_total", &[("transport", "http")]).unwrap_or(0.0) >= 1.0);
    assert!(total(&router, "jobtracker_router_errors_total", &[("code", "RATE_LIMITED")]).unwrap_or(0.0) >= 1.0);
    assert!(total(&router, "jobtracker_router_errors_total", &[("code", "NOT_FOUND")]).unwrap_or(0.0) >= 1.0);

    let mut seen = BTreeMap::new();
    for spec in jobtracker_services::SERVICES {
        let url = system.stack[spec.name].url();
        // The first scrape is itself a request; the second one shows it.
        scrape(&url).await;
        let metrics = scrape(&url).await;
        assert!(
            metrics.samples.iter().all(|s| s.labels.get("service") == Some(spec.name)),
            "{}: samples of another service",
            spec.name
        );
        assert!(
            total(&metrics, "http_server_request_duration_seconds_count", &[("route", "/metrics")]).is_some(),
            "{}: request latency by route: {:?}",
            spec.name,
            names(&metrics)
        );
        if spec.migrations.is_some() {
            assert!(total(&metrics, "db_pool_max_connections", &[]).is_some_and(|n| n > 0.0), "{}: pool", spec.name);
            assert!(total(&metrics, "db_pool_waiting_requests", &[]).is_some(), "{}: pool waiting", spec.name);
        }
        seen.insert(spec.name, metrics);
    }
    for publisher in ["auth", "users", "applications", "interviews", "contacts", "notifications"] {
        let metrics = &seen[publisher];
        assert!(total(metrics, "outbox_pending_events", &[]).is_some(), "{publisher}: outbox backlog");
        assert!(total(metrics, "outbox_oldest_pending_age_seconds", &[]).is_some(), "{publisher}: oldest age");
    }
    assert!(total(&seen["applications"], "outbox_published_events_total", &[]).unwrap_or(0.0) >= 2.0);

    let analytics = system.stack["analytics"].url();
    let analytics = scrape_until(&analytics, "two applied events and sampled queue depths", |m| {
        total(m, "events_consumed_total", &[("outcome", "applied"), ("queue", "analytics.events")]).unwrap_or(0.0)
            >= 2.0
            && total(m, "events_queue_messages", &[]).is_some()
            && total(m, "events_dead_letter_messages", &[]).is_some()
    })
    .await;
    assert!(total(&analytics, "events_consume_lag_seconds_count", &[]).unwrap_or(0.0) >= 2.0);
    assert_eq!(total(&analytics, "events_dead_letter_messages", &[]), Some(0.0));

    let notifications = system.stack["notifications"].url();
    scrape_until(&notifications, "the status notice sent in-app", |m| {
        total(m, "notifications_deliveries_total", &[("channel", "IN_APP"), ("outcome", "sent")]).unwrap_or(0.0) >= 1.0
    })
    .await;
    let search = system.stack["search"].url();
    scrape_until(&search, "index freshness", |m| {
        total(m, "search_index_freshness_seconds_count", &[("backend", "postgresql")]).unwrap_or(0.0) >= 1.0
    })
    .await;
}
