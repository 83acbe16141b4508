//! The dashboard and analytics through the router, and the live dashboard
//! pushed over graphql-transport-ws.

use std::time::{Duration, Instant};

use chrono::Utc;
use jobtracker_testkit::{Gql, WsClient};
use serde_json::{Value, json};

use crate::helpers::System;

async fn create(client: &Gql, company: &str, status: &str) -> String {
    let response = client
        .run(
            "mutation($i: CreateApplicationInput!) { createApplication(input: $i) { id } }",
            json!({ "i": { "company": company, "position": "Backend Engineer", "status": status } }),
        )
        .await;
    response.data()["createApplication"]["id"].as_str().unwrap().to_string()
}

async fn schedule(client: &Gql, company: &str, at: String) -> String {
    let response = client
        .run("mutation($i: ScheduleInterviewInput!) { scheduleInterview(input: $i) { id } }", json!({ "i": { "company": company, "position": "SRE", "scheduledAt": at, "timeZone": "UTC", "type": "PHONE" } }))
        .await;
    response.data()["scheduleInterview"]["id"].as_str().unwrap().to_string()
}

const DASHBOARD: &str = "{ dashboard { inProgressCount upcomingInterviews(limit: 2) { company } recentApplications(limit: 3) { company status } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_composes_applications_and_interviews() {
    let system = System::start().await;
    let (_, ada) = system.sign_up("Ada Lovelace").await;
    for (company, status) in [("A", "SAVED"), ("B", "APPLIED"), ("C", "INTERVIEW"), ("D", "OFFER"), ("E", "REJECTED")] {
        create(&ada, company, status).await;
    }
    let soon = |hours: i64| (Utc::now() + chrono::Duration::hours(hours)).to_rfc3339();
    schedule(&ada, "Past", soon(-3)).await;
    schedule(&ada, "Later", soon(48)).await;
    schedule(&ada, "Sooner", soon(2)).await;
    let cancelled = schedule(&ada, "Cancelled", soon(1)).await;
    ada.run("mutation($id: ID!) { cancelInterview(id: $id) { id } }", json!({ "id": cancelled })).await.data();
    schedule(&ada, "Latest", soon(72)).await;

    let dashboard = ada.run(DASHBOARD, json!({})).await;
    assert_eq!(
        dashboard.data()["dashboard"],
        json!({
            "inProgressCount": 3,
            "upcomingInterviews": [{ "company": "Sooner" }, { "company": "Later" }],
            "recentApplications": [{ "company": "E", "status": "REJECTED" }, { "company": "D", "status": "OFFER" }, { "company": "C", "status": "INTERVIEW" }],
        })
    );
    let defaults =
        ada.run("{ dashboard { upcomingInterviews { company } recentApplications { company } } }", json!({})).await;
    assert_eq!(defaults.data()["dashboard"]["recentApplications"].as_array().unwrap().len(), 5);
    assert_eq!(defaults.data()["dashboard"]["upcomingInterviews"].as_array().unwrap().len(), 3);

    let (_, grace) = system.sign_up("Grace Hopper").await;
    let empty = grace.run(DASHBOARD, json!({})).await;
    assert_eq!(
        empty.data()["dashboard"],
        json!({ "inProgressCount": 0, "upcomingInterviews": [], "recentApplications": [] })
    );
    let too_many = ada.run("{ dashboard { recentApplications(limit: 51) { id } } }", json!({})).await;
    assert_eq!(too_many.error_field(), Some("limit"));
    assert_eq!(system.gql.run(DASHBOARD, json!({})).await.error_code(), "UNAUTHENTICATED");
}

async fn subscribe(system: &System, token: &str) -> WsClient {
    let mut ws = WsClient::connect(&system.router.ws_url(), json!({ "Authorization": format!("Bearer {token}") }))
        .await
        .expect("acknowledged");
    ws.subscribe("d", "subscription { dashboardUpdated { inProgressCount recentApplications(limit: 1) { company } } }")
        .await;
    ws
}

fn pushed(message: &Value) -> &Value {
    assert_eq!(message["type"], "next", "{message}");
    &message["payload"]["data"]["dashboardUpdated"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_are_pushed_within_a_second_to_their_owner_only() {
    let system = System::start().await;
    let (ada, ada_http) = system.sign_up("Ada Lovelace").await;
    let (grace, _) = system.sign_up("Grace Hopper").await;
    let mut ada_ws = subscribe(&system, &ada.access_token).await;
    let mut grace_ws = subscribe(&system, &grace.access_token).await;
    tokio::time::sleep(Duration::from_millis(700)).await;

    // Another connection of Ada's makes the change.
    let started = Instant::now();
    create(&ada_http, "Acme", "APPLIED").await;
    let message = ada_ws.next_message(Duration::from_secs(5)).await.expect("a push");
    let latency = started.elapsed();
    assert_eq!(pushed(&message), &json!({ "inProgressCount": 1, "recentApplications": [{ "company": "Acme" }] }));
    assert!(latency < Duration::from_secs(1), "pushed after {latency:?}");
    assert!(grace_ws.next_message(Duration::from_millis(800)).await.is_none(), "grace receives nothing of Ada's");

    // A burst of writes gives one push (debounced), showing the final state.
    // The three changes are sent at once so that the burst fits the debounce
    // window even on a loaded machine.
    let id = create(&ada_http, "Globex", "SAVED").await;
    let change = |status: &'static str| {
        ada_http.run(
            "mutation($id: ID!, $s: ApplicationStatus!) { changeApplicationStatus(id: $id, status: $s) { id } }",
            json!({ "id": id, "s": status }),
        )
    };
    for response in futures::future::join_all(["APPLIED", "INTERVIEW", "OFFER"].map(change)).await {
        response.data();
    }
    let mut pushes = Vec::new();
    while let Some(message) = ada_ws.next_message(Duration::from_millis(1200)).await {
        pushes.push(pushed(&message).clone());
    }
    assert!(!pushes.is_empty() && pushes.len() < 4, "{} pushes for 4 writes", pushes.len());
    assert_eq!(pushes.last().unwrap()["inProgressCount"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_connections_with_a_bad_token_are_closed_4403() {
    let system = System::start().await;
    let (ada, _) = system.sign_up("Ada Lovelace").await;
    let tampered = format!("{}x", ada.access_token);
    for authorization in ["Bearer not.a.token".to_string(), format!("Bearer {tampered}"), "Basic abc".to_string()] {
        let refused = WsClient::connect(&system.router.ws_url(), json!({ "Authorization": authorization })).await;
        assert!(
            matches!(refused, Err(jobtracker_testkit::ws::Refused::Closed(Some(4403)))),
            "{authorization}: {:?}",
            refused.err()
        );
    }
    // A message before connection_init: 4401.
    let subscribe_first = json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { dashboardUpdated { inProgressCount } }" } });
    assert_eq!(WsClient::close_code_after(&system.router.ws_url(), subscribe_first).await, Some(4401));
    // A good token is acknowledged and served; no token is anonymous and refused per operation.
    subscribe(&system, &ada.access_token).await;
    let mut anonymous = WsClient::connect(&system.router.ws_url(), json!({})).await.expect("anonymous connection");
    anonymous.subscribe("d", "subscription { dashboardUpdated { inProgressCount } }").await;
    let message = anonymous.next_message(Duration::from_secs(5)).await.expect("an answer");
    let errors = if message["type"] == "error" { &message["payload"] } else { &message["payload"]["errors"] };
    assert_eq!(errors[0]["extensions"]["code"], "UNAUTHENTICATED", "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_follow_a_scripted_scenario_and_ignore_redelivery_through_the_router() {
    let system = System::start().await;
    let (_, ada) = system.sign_up("Ada Lovelace").await;
    let rejected = create(&ada, "Acme", "APPLIED").await;
    ada.run(
        "mutation($id: ID!) { changeApplicationStatus(id: $id, status: REJECTED) { id } }",
        json!({ "id": rejected }),
    )
    .await
    .data();
    create(&ada, "Globex", "SAVED").await;
    let deleted = create(&ada, "Initech", "APPLIED").await;
    ada.run("mutation($id: ID!) { deleteApplication(id: $id) }", json!({ "id": deleted })).await.data();
    let interview = schedule(&ada, "Globex", (Utc::now() + chrono::Duration::days(3)).to_rfc3339()).await;
    ada.run(
        "mutation($id: ID!, $at: DateTime!) { updateInterview(id: $id, input: { scheduledAt: $at }) { id } }",
        json!({ "id": interview, "at": (Utc::now() + chrono::Duration::days(5)).to_rfc3339() }),
    )
    .await
    .data();
    let cancelled = schedule(&ada, "Acme", (Utc::now() + chrono::Duration::days(1)).to_rfc3339()).await;
    ada.run("mutation($id: ID!) { cancelInterview(id: $id) { id } }", json!({ "id": cancelled })).await.data();

    let query = "{ analytics { totalApplications interviewCount funnel { applied } responseRate statusBreakdown { status count } positionDistribution { label count } } }";
    let settled = |a: &Value| a["totalApplications"] == 2 && a["responseRate"] == 1.0 && a["interviewCount"] == 1;
    let numbers = wait_for(&ada, query, settled).await;
    assert_eq!(numbers["funnel"]["applied"], 1);
    assert_eq!(numbers["statusBreakdown"][0], json!({ "status": "SAVED", "count": 1 }));
    assert_eq!(numbers["positionDistribution"][0], json!({ "label": "Backend", "count": 2 }));

    // Every event delivered again: nothing moves.
    let env = &system.stack.env;
    let mut events = jobtracker_testkit::events::published(env, "applications").await;
    events.extend(jobtracker_testkit::events::published(env, "interviews").await);
    jobtracker_testkit::events::republish(&env.bus, events).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(ada.run(query, json!({})).await.data()["analytics"], numbers);
}

async fn wait_for(client: &Gql, query: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let analytics = client.run(query, json!({})).await.data()["analytics"].clone();
        if done(&analytics) {
            return analytics;
        }
        assert!(Instant::now() < deadline, "analytics did not settle: {analytics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_outlives_the_routers_heartbeat() {
    let system = System::start().await;
    let (ada, ada_http) = system.sign_up("Ada Lovelace").await;
    let mut ws = subscribe(&system, &ada.access_token).await;
    // Hive pings every 5 s and drops a peer silent for 10 s: wait past that,
    // reading as a live client does (its WebSocket answers the pings).
    assert!(ws.next_message(Duration::from_secs(16)).await.is_none());
    create(&ada_http, "Acme", "APPLIED").await;
    let message = ws.next_message(Duration::from_secs(5)).await.expect("still subscribed after 16 s");
    assert_eq!(pushed(&message)["inProgressCount"], 1);
}
