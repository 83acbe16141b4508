//! `jobtracker run` (target `all`, the README's first command): every
//! service as a supervised child process, the router answering, and Ctrl-C
//! (SIGINT) stopping everything cleanly.

use std::process::Stdio;
use std::time::{Duration, Instant};

use jobtracker_testkit::{Account, Gql, TestEnv, free_port};
use serde_json::json;

use crate::helpers::binary;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all_serves_through_the_router_and_stops_on_ctrl_c() {
    let env = TestEnv::new();
    let router_port = free_port();
    let mut command = tokio::process::Command::new(binary());
    command.arg("run").env_remove("SERVICE_TOKEN").env("ROUTER_PORT", router_port.to_string());
    // Every service of the table on a free port with this test's database.
    let mut ports = std::collections::BTreeMap::new();
    for spec in jobtracker_services::SERVICES {
        let (upper, port) = (spec.name.to_ascii_uppercase(), free_port());
        command
            .env(format!("{upper}_PORT"), port.to_string())
            .env(format!("{upper}_URL"), format!("http://127.0.0.1:{port}"))
            .env(format!("{upper}_DATABASE"), env.database(spec.name).name);
        ports.insert(spec.name, port);
    }
    let mut child = command
        .env("EVENTS_PREFIX", &env.bus.prefix)
        .env("SUPERGRAPH_PATH", jobtracker_testkit::router::workspace_supergraph())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let auth_port = ports["auth"];

    let gql = Gql::new(format!("http://127.0.0.1:{router_port}/graphql"));
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !client
        .post(&gql.url)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "the router did not come up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The router answers `__typename` itself, before the children listen:
    // every service's own health probe says when they do.
    for (name, port) in &ports {
        let health = format!("http://127.0.0.1:{port}/health");
        while !client.get(&health).send().await.is_ok_and(|r| r.status().is_success()) {
            assert!(Instant::now() < deadline, "{name} did not come up");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let ada = Account::register(&gql, "Ada Lovelace").await;
    let me = gql.with_token(&ada.access_token).run("{ me { fullName } }", json!({})).await;
    assert_eq!(me.data()["me"]["fullName"], "Ada Lovelace");
    // No SERVICE_TOKEN was configured: the children share a generated one, and
    // auth's internal lookup is not open to whoever reaches its port.
    let internal = format!("http://127.0.0.1:{auth_port}/internal/accounts/{}", ada.user_id);
    assert_eq!(client.get(&internal).send().await.unwrap().status(), 401);
    let guessed = client.get(&internal).header("x-service-token", "0".repeat(64)).send().await.unwrap();
    assert_eq!(guessed.status(), 403);

    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let status = tokio::time::timeout(Duration::from_secs(40), child.wait()).await.expect("stops within 40 s").unwrap();
    assert!(status.success(), "clean exit: {status}");
    assert!(client.get(format!("http://127.0.0.1:{auth_port}/health")).send().await.is_err(), "auth stopped too");
}
