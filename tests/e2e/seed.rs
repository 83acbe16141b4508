//! `jobtracker seed` writes realistic data through the services' code: the
//! seeded user signs in through the router and sees varied applications
//! spread over months, with interviews.

use std::collections::HashSet;

use jobtracker_testkit::{Account, Gql};
use serde_json::json;

use crate::helpers::{System, binary};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_demo_data_is_varied_and_visible_through_the_router() {
    let system = System::start().await;
    let env = &system.stack.env;
    let output = tokio::process::Command::new(binary())
        .args(["seed", "--users", "2", "--applications", "60"])
        .env("AUTH_DATABASE", env.database("auth").name)
        .env("APPLICATIONS_DATABASE", env.database("applications").name)
        .env("INTERVIEWS_DATABASE", env.database("interviews").name)
        .env("EVENTS_PREFIX", &env.bus.prefix)
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let email = stdout
        .lines()
        .find_map(|l| l.strip_prefix("sign in as "))
        .and_then(|l| l.split(" / ").next())
        .expect("credentials printed");

    let login = system
        .gql
        .run(
            "mutation($e: String!) { login(email: $e, password: \"jobtracker-demo\") { accessToken } }",
            json!({ "e": email }),
        )
        .await;
    let demo = Gql::new(system.router.graphql_url()).with_token(login.data()["login"]["accessToken"].as_str().unwrap());
    let list = demo
        .run("{ applications(first: 100) { totalCount edges { node { company position location status createdAt statusHistory { to } } } } interviews(first: 100) { totalCount } }", json!({}))
        .await;
    let data = list.data();
    assert_eq!(data["applications"]["totalCount"], 60);
    let nodes: Vec<_> = data["applications"]["edges"].as_array().unwrap().iter().map(|e| &e["node"]).collect();
    let distinct = |key: &str| nodes.iter().map(|n| n[key].to_string()).collect::<HashSet<_>>().len();
    assert!(distinct("company") >= 10 && distinct("position") >= 10 && distinct("location") >= 8, "varied data");
    assert!(distinct("status") >= 4, "several statuses");
    let months: HashSet<String> = nodes.iter().map(|n| n["createdAt"].as_str().unwrap()[..7].to_string()).collect();
    assert!(months.len() >= 6, "spread over months: {months:?}");
    assert!(nodes.iter().all(|n| n["statusHistory"].as_array().is_some_and(|h| !h.is_empty())));
    assert!(data["interviews"]["totalCount"].as_i64().unwrap() >= 1);

    // The second user's data is theirs alone.
    let other = Account::register(&system.gql, "Someone Else").await;
    let theirs = system.gql.with_token(&other.access_token).run("{ applications { totalCount } }", json!({})).await;
    assert_eq!(theirs.data()["applications"]["totalCount"], 0);
}
