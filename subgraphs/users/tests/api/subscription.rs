use std::time::Duration;

use jobtracker_testkit::WsClient;
use serde_json::json;

use crate::helpers::TestUsers;

const UPDATE: &str = "mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { id } }";

#[tokio::test]
async fn profile_updates_are_pushed_to_their_owner_only() {
    let app = TestUsers::spawn().await;
    let (ada, ada_http) = app.sign_up("Ada Lovelace").await;
    let (grace, grace_http) = app.sign_up("Grace Hopper").await;
    let ws_url = format!("ws://{}/ws", app.stack["users"].addr);

    let mut ada_ws = WsClient::connect(&ws_url, json!({ "Authorization": format!("Bearer {}", ada.access_token) }))
        .await
        .expect("ada connects");
    ada_ws.subscribe("1", "subscription { profileUpdated { id headline } }").await;
    let mut grace_ws = WsClient::connect(&ws_url, json!({ "authorization": format!("Bearer {}", grace.access_token) }))
        .await
        .expect("grace connects");
    grace_ws.subscribe("1", "subscription { profileUpdated { id headline } }").await;
    // Let both subscriptions register before acting.
    tokio::time::sleep(Duration::from_millis(300)).await;

    ada_http.run(UPDATE, json!({ "input": { "headline": "Programmer" } })).await.data();

    let pushed = ada_ws.next_message(Duration::from_secs(5)).await.expect("ada receives her update");
    assert_eq!(pushed["payload"]["data"]["profileUpdated"], json!({ "id": ada.user_id, "headline": "Programmer" }));
    assert!(grace_ws.next_message(Duration::from_millis(700)).await.is_none(), "grace must not see ada's update");

    grace_http.run(UPDATE, json!({ "input": { "headline": "Admiral" } })).await.data();
    let pushed = grace_ws.next_message(Duration::from_secs(5)).await.expect("grace receives her update");
    assert_eq!(pushed["payload"]["data"]["profileUpdated"]["headline"], "Admiral");
}

#[tokio::test]
async fn subscribing_requires_a_valid_token() {
    let app = TestUsers::spawn().await;
    let ws_url = format!("ws://{}/ws", app.stack["users"].addr);

    let refused = WsClient::connect(&ws_url, json!({ "Authorization": "Bearer not.a.token" })).await;
    assert!(refused.is_err(), "a bad token must not be acknowledged");

    let mut anonymous = WsClient::connect(&ws_url, json!({})).await.expect("anonymous connection");
    anonymous.subscribe("1", "subscription { profileUpdated { id } }").await;
    let message = anonymous.next_message(Duration::from_secs(5)).await.expect("an error");
    // An execution error arrives as `next` with errors (or `error` for a request error).
    let errors = if message["type"] == "error" { &message["payload"] } else { &message["payload"]["errors"] };
    assert_eq!(errors[0]["extensions"]["code"], "UNAUTHENTICATED", "{message}");
}
