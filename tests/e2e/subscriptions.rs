use std::time::Duration;

use jobtracker_testkit::WsClient;
use serde_json::json;

use crate::helpers::System;
use crate::tokens::{claims, sign, signing_key};

const UPDATE: &str = "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_updates_reach_the_owner_through_the_router_and_no_one_else() {
    let system = System::start().await;
    let (ada, ada_gql) = system.sign_up("Ada Lovelace").await;
    let (grace, grace_gql) = system.sign_up("Grace Hopper").await;

    let mut ada_ws =
        WsClient::connect(&system.router.ws_url(), json!({ "Authorization": format!("Bearer {}", ada.access_token) }))
            .await
            .expect("ada's connection is acknowledged");
    ada_ws.subscribe("p", "subscription { profileUpdated { id fullName headline } }").await;
    let mut grace_ws = WsClient::connect(
        &system.router.ws_url(),
        json!({ "Authorization": format!("Bearer {}", grace.access_token) }),
    )
    .await
    .expect("grace's connection is acknowledged");
    grace_ws.subscribe("p", "subscription { profileUpdated { id headline } }").await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let started = std::time::Instant::now();
    ada_gql.run(UPDATE, json!({ "i": { "headline": "Programmer" } })).await.data();
    let pushed = ada_ws.next_message(Duration::from_secs(5)).await.expect("ada receives her update");
    let latency = started.elapsed();
    assert_eq!(pushed["type"], "next");
    assert_eq!(
        pushed["payload"]["data"]["profileUpdated"],
        json!({ "id": ada.user_id, "fullName": "Ada Lovelace", "headline": "Programmer" })
    );
    assert!(latency < Duration::from_secs(1), "push took {latency:?}");
    assert!(grace_ws.next_message(Duration::from_millis(800)).await.is_none(), "grace must not receive ada's update");

    grace_gql.run(UPDATE, json!({ "i": { "headline": "Rear Admiral" } })).await.data();
    let pushed = grace_ws.next_message(Duration::from_secs(5)).await.expect("grace receives hers");
    assert_eq!(pushed["payload"]["data"]["profileUpdated"]["headline"], "Rear Admiral");
    assert!(ada_ws.next_message(Duration::from_millis(500)).await.is_none(), "ada must not receive grace's update");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_subscription_is_unauthenticated() {
    let system = System::start().await;
    let mut ws = WsClient::connect(&system.router.ws_url(), json!({})).await.expect("anonymous connection");
    ws.subscribe("p", "subscription { profileUpdated { id } }").await;
    let message = ws.next_message(Duration::from_secs(5)).await.expect("an answer");
    let errors = if message["type"] == "error" { &message["payload"] } else { &message["payload"]["errors"] };
    assert_eq!(errors[0]["extensions"]["code"], "UNAUTHENTICATED", "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_subscription_ends_unauthenticated_when_its_token_expires() {
    let system = System::start().await;
    let (ada, ada_gql) = system.sign_up("Ada Lovelace").await;
    let key = signing_key(&system).await;
    let now = chrono::Utc::now().timestamp();
    let expires_at = now + 3;
    let short_lived = sign(&key.kid, &key.private_key_der, &claims(&ada.user_id, now, expires_at));

    let mut ws =
        WsClient::connect(&system.router.ws_url(), json!({ "Authorization": format!("Bearer {short_lived}") }))
            .await
            .expect("a valid token is acknowledged");
    ws.subscribe("p", "subscription { profileUpdated { headline } }").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    ada_gql.run(UPDATE, json!({ "i": { "headline": "Programmer" } })).await.data();
    let pushed = ws.next_message(Duration::from_secs(2)).await.expect("pushes arrive while the token is valid");
    assert_eq!(pushed["payload"]["data"]["profileUpdated"]["headline"], "Programmer", "{pushed}");

    let ended = ws.next_message(Duration::from_secs(10)).await.expect("the subscription ends at expiry");
    let ended_at_ms = chrono::Utc::now().timestamp_millis();
    let errors = if ended["type"] == "error" { &ended["payload"] } else { &ended["payload"]["errors"] };
    assert_eq!(errors[0]["extensions"]["code"], "UNAUTHENTICATED", "{ended}");
    assert!(ended_at_ms >= expires_at * 1000 - 250, "ended {} ms before expiry", expires_at * 1000 - ended_at_ms);
    if let Some(after) = ws.next_message(Duration::from_secs(2)).await {
        assert_eq!(after["type"], "complete", "nothing is pushed after the end: {after}");
    }
}
