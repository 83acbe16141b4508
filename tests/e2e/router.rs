//! The router's own duties: rate limiting, limits, the playground, health,
//! any supergraph file, graceful shutdown.

use jobtracker_testkit::{Gql, RouterOptions, RouterProcess};
use serde_json::json;

use crate::helpers::{System, binary, options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_over_their_rate_are_refused_with_429_and_others_are_not() {
    let system = System::start_with(options(&[("RATE_LIMIT_PER_SECOND", "0.5"), ("RATE_LIMIT_BURST", "20")])).await;
    let (_, ada) = system.sign_up("Ada Lovelace").await;

    let mut refused = None;
    for _ in 0..25 {
        let response = ada.run("{ me { id } }", json!({})).await;
        if response.status == 429 {
            refused = Some(response);
            break;
        }
    }
    let refused = refused.expect("the 21st request in a burst is refused");
    assert_eq!(refused.error_code(), "RATE_LIMITED");
    assert!(refused.errors()[0]["extensions"]["retryAfter"].as_u64().unwrap() >= 1);

    // Another user (keyed by token subject) still gets through.
    let (_, grace) = system.sign_up("Grace Hopper").await;
    assert_eq!(grace.run("{ me { fullName } }", json!({})).await.data()["me"]["fullName"], "Grace Hopper");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_playground_is_served_offline_and_health_answers() {
    let system = System::start().await;
    let client = reqwest::Client::new();

    let page = client.get(system.router.graphql_url()).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("HiveLaboratory.renderLaboratory"));
    // Every script and style is inline: the page loads nothing from another
    // origin (the browser test proves it works with the network closed).
    let head = &html[..html.find("<script>").expect("an inline script")];
    assert!(!head.contains("<link") && !head.contains("src="), "nothing fetched from the head");
    assert!(!html.contains("<script src="), "no external scripts");

    let health = client.get(format!("{}/health", system.router.url())).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overly_deep_queries_are_refused() {
    let system = System::start().await;
    let deep = format!("{{ me {}id{} }}", "{ savedProfiles ".repeat(14), " }".repeat(14));
    let response = system.gql.run(&deep, json!({})).await;
    assert!(!response.errors().is_empty(), "{}", response.body);
    assert!(response.body["data"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_serves_a_supergraph_file_it_is_given_and_stops_cleanly() {
    let system = System::start().await;
    let dir = std::env::temp_dir().join(format!("jt-supergraph-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("any.graphql");
    std::fs::copy(jobtracker_testkit::router::workspace_supergraph(), &file).unwrap();

    let router =
        RouterProcess::start(binary(), &system.stack, RouterOptions { supergraph: Some(file), ..Default::default() })
            .await;
    let gql = Gql::new(router.graphql_url());
    let (ada, _) = (jobtracker_testkit::Account::register(&gql, "Ada Lovelace").await, ());
    let me = gql.with_token(&ada.access_token).run("{ me { fullName } }", json!({})).await;
    assert_eq!(me.data()["me"]["fullName"], "Ada Lovelace");

    drop(gql); // close idle keep-alive connections
    let status = router.stop().await;
    assert!(status.success(), "SIGTERM ends the router cleanly: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_aliases_are_refused() {
    let system = System::start().await;
    let aliases: String = (0..31).map(|i| format!("a{i}: __typename ")).collect();
    let response = system.gql.run(&format!("{{ {aliases} }}"), json!({})).await;
    assert!(!response.errors().is_empty(), "{}", response.body);
    let fine: String = (0..5).map(|i| format!("a{i}: __typename ")).collect();
    assert_eq!(system.gql.run(&format!("{{ {fine} }}"), json!({})).await.data()["a4"], "Query");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_policies_answer_preflights_for_allowed_origins_only() {
    let system = System::start_with(options(&[("CORS_ALLOW_ORIGINS", "https://app.example.com")])).await;
    let client = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, system.router.graphql_url())
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        allowed.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap()),
        Some("https://app.example.com")
    );
    // Another origin is never echoed back, so browsers refuse it.
    let refused = preflight("https://evil.example.com").await.unwrap();
    let echoed = refused.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_string());
    assert!(echoed.as_deref().is_none_or(|o| o != "https://evil.example.com" && o != "*"), "{echoed:?}");
}
