//! `jobtracker run` (target `all`, the README's first command): every
//! service as a supervised child process, the router answering, and Ctrl-C
//! (SIGINT) stopping everything cleanly.

use std::process::Stdio;
use std::time::{Duration, Instant};

use jobtracker_testkit::{Account, Gql, TestEnv};
use serde_json::json;

use crate::helpers::binary;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all_serves_through_the_router_and_stops_on_ctrl_c() {
    let env = TestEnv::new();
    let (auth_port, users_port, router_port) = (free_port(), free_port(), free_port());
    let (applications_port, interviews_port, analytics_port) = (free_port(), free_port(), free_port());
    let dashboard_port = free_port();
    let mut child = tokio::process::Command::new(binary())
        .arg("run")
        .env_remove("SERVICE_TOKEN")
        .env("AUTH_PORT", auth_port.to_string())
        .env("USERS_PORT", users_port.to_string())
        .env("ROUTER_PORT", router_port.to_string())
        .env("AUTH_URL", format!("http://127.0.0.1:{auth_port}"))
        .env("USERS_URL", format!("http://127.0.0.1:{users_port}"))
        .env("APPLICATIONS_PORT", applications_port.to_string())
        .env("INTERVIEWS_PORT", interviews_port.to_string())
        .env("APPLICATIONS_URL", format!("http://127.0.0.1:{applications_port}"))
        .env("INTERVIEWS_URL", format!("http://127.0.0.1:{interviews_port}"))
        .env("APPLICATIONS_DATABASE", env.database("applications").name)
        .env("INTERVIEWS_DATABASE", env.database("interviews").name)
        .env("ANALYTICS_PORT", analytics_port.to_string())
        .env("ANALYTICS_URL", format!("http://127.0.0.1:{analytics_port}"))
        .env("ANALYTICS_DATABASE", env.database("analytics").name)
        .env("DASHBOARD_PORT", dashboard_port.to_string())
        .env("DASHBOARD_URL", format!("http://127.0.0.1:{dashboard_port}"))
        .env("AUTH_DATABASE", env.database("auth").name)
        .env("USERS_DATABASE", env.database("users").name)
        .env("EVENTS_PREFIX", &env.bus.prefix)
        .env("SUPERGRAPH_PATH", jobtracker_testkit::router::workspace_supergraph())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

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
