//! `ROUTER_MODE=production`, one switch per test case: trusted documents
//! only (from a manifest file), introspection and the playground off,
//! request errors masked, a request body limit, metrics on their own port.

use std::path::PathBuf;
use std::time::Duration;

use jobtracker_testkit::{Gql, RouterOptions, RouterProcess, WsClient, free_port};
use serde_json::json;

use crate::helpers::{System, binary};

const ME: &str = "query Me { me { fullName } }";
const INTROSPECTION: &str = "query Types { __schema { types { name } } }";
/// A trusted document that no longer matches the schema (a stale manifest).
const STALE: &str = "query Stale { me { nickname } }";

fn manifest() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jt-manifest-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("persisted-documents.json");
    let documents = json!({ "me-v1": ME, "types-v1": INTROSPECTION, "stale-v1": STALE });
    std::fs::write(&path, documents.to_string()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_mode_serves_trusted_documents_only_and_hides_the_schema() {
    // Accounts are made through a development router: registration is not
    // one of this manifest's documents.
    let system = System::start().await;
    let (ada, _) = system.sign_up("Ada Lovelace").await;
    let metrics_port = free_port();
    let env = [
        ("ROUTER_MODE", "production".to_string()),
        ("ROUTER_PERSISTED_DOCUMENTS", manifest().display().to_string()),
        ("ROUTER_MAX_REQUEST_BODY_BYTES", "4096".to_string()),
        ("ROUTER_METRICS_PORT", metrics_port.to_string()),
    ];
    let options =
        RouterOptions { env: env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(), ..Default::default() };
    let router = RouterProcess::start(binary(), &system.stack, options).await;
    let gql = Gql::new(router.graphql_url()).with_token(&ada.access_token);

    // Trusted documents by id answer; the same text sent as a query does not.
    let me = gql.run_document("me-v1", json!({})).await;
    assert_eq!(me.data()["me"]["fullName"], "Ada Lovelace", "{}", me.body);
    let text = gql.run(ME, json!({})).await;
    assert_eq!(text.error_code(), "BAD_USER_INPUT", "{}", text.body);
    assert!(text.body["data"].is_null());
    let unknown = gql.run_document("not-in-the-manifest", json!({})).await;
    assert_eq!(unknown.error_code(), "BAD_USER_INPUT", "{}", unknown.body);

    // Introspection is off even as a trusted document.
    let types = gql.run_document("types-v1", json!({})).await;
    assert!(!types.errors().is_empty(), "{}", types.body);
    assert!(types.body["data"]["__schema"].is_null(), "{}", types.body);

    // Request errors keep their code, not a message that describes the schema.
    let stale = gql.run_document("stale-v1", json!({})).await;
    assert_eq!(stale.error_code(), "BAD_USER_INPUT");
    assert_eq!(stale.errors()[0]["message"], "invalid request", "{}", stale.body);
    let named = system.gql.with_token(&ada.access_token).run("query Valid { me { fullName } }", json!({})).await;
    assert!(named.errors().is_empty(), "{}", named.body);
    let development = system.gql.with_token(&ada.access_token).run(STALE, json!({})).await;
    assert!(development.errors()[0]["message"].as_str().unwrap().contains("nickname"), "{}", development.body);

    // No playground.
    let client = reqwest::Client::new();
    let page = client.get(router.graphql_url()).header("accept", "text/html").send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(!html.contains("HiveLaboratory"), "the playground is off");

    // Bodies above the limit are refused; the limit is not a GraphQL success.
    let padding = "x".repeat(8 * 1024);
    let large = client
        .post(router.graphql_url())
        .bearer_auth(&ada.access_token)
        .json(&json!({ "documentId": "me-v1", "variables": { "padding": padding } }))
        .send()
        .await
        .unwrap();
    assert_eq!(large.status(), 413, "{}", large.text().await.unwrap());

    // The same rules over the WebSocket: a document's text is refused.
    let mut socket =
        WsClient::connect(&router.ws_url(), json!({ "Authorization": format!("Bearer {}", ada.access_token) }))
            .await
            .unwrap_or_else(|_| panic!("connection_ack"));
    socket.subscribe("1", "subscription { profileUpdated { fullName } }").await;
    let answer = socket.next_message(Duration::from_secs(5)).await.expect("an answer to subscribe");
    assert_eq!(answer["type"], "error", "{answer}");
    assert_eq!(answer["payload"][0]["extensions"]["code"], "BAD_USER_INPUT", "{answer}");

    // Metrics on their own port, not on the public listener.
    let metrics = client.get(format!("http://127.0.0.1:{metrics_port}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let metrics = metrics.text().await.unwrap();
    assert!(metrics.contains("http_server_request_duration_seconds"));
    // Operation names label requests here (they come from the manifest)…
    assert!(metrics.contains(r#"graphql_operation_name="Me""#), "{metrics}");
    // …but not on a development router, where any client could mint new ones.
    let development =
        client.get(format!("{}/metrics", system.router.url())).send().await.unwrap().text().await.unwrap();
    assert!(development.contains("http_server_request_duration_seconds"));
    assert!(!development.contains(r#"graphql_operation_name="Valid""#), "{development}");
    let public = client.get(format!("{}/metrics", router.url())).send().await.unwrap();
    let status = public.status();
    let text = public.text().await.unwrap();
    assert!(!text.contains("http_server_request_duration_seconds"), "{status}: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_mode_without_a_manifest_refuses_to_start() {
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(binary())
            .args(["run", "--target", "router"])
            .env("ROUTER_MODE", "production")
            .env_remove("ROUTER_PERSISTED_DOCUMENTS")
            .env("ROUTER_PORT", free_port().to_string())
            .output(),
    )
    .await
    .expect("exits at once")
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ROUTER_PERSISTED_DOCUMENTS"), "{stderr}");
}
