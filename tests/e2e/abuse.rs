//! Attacks that went through the router (issue 7): one request buying many
//! password hashes, and one field buying seconds of CPU. Each must be refused
//! fast and with its code, and leave the system serving.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::System;

const LOGIN: &str = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_aliased_logins_in_one_request_are_refused_before_any_hashing() {
    let system = System::start().await;
    let (ada, _) = system.sign_up("Ada Lovelace").await;
    let logins: String = (0..30)
        .map(|i| format!("l{i}: login(email: \"{}\", password: \"guess {i} guess\") {{ accessToken }} ", ada.email))
        .collect();

    let started = Instant::now();
    let response = system.gql.run(&format!("mutation {{ {logins} }}"), json!({})).await;
    let elapsed = started.elapsed();

    assert_eq!(response.error_code(), "BAD_USER_INPUT", "{}", response.body);
    assert!(response.errors().iter().all(|e| e["extensions"]["code"] == "BAD_USER_INPUT"), "{}", response.body);
    assert!(response.body["data"].is_null() || response.body["data"]["l0"].is_null(), "{}", response.body);
    // 30 argon2 checks took 2.5–5.6 s; none run now.
    assert!(elapsed < Duration::from_millis(500), "answered in {elapsed:?}");
    // None was counted as a guess: the e-mail still has its five attempts.
    for _ in 0..5 {
        let guess = system.gql.run(LOGIN, json!({ "e": ada.email, "p": "one guess at a time" })).await;
        assert_eq!(guess.error_code(), "UNAUTHENTICATED");
    }
    assert_eq!(system.gql.run(LOGIN, json!({ "e": ada.email, "p": ada.password })).await.error_code(), "RATE_LIMITED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_aliased_registrations_in_one_request_are_refused_before_any_hashing() {
    let system = System::start().await;
    let registrations: String = (0..30)
        .map(|i| {
            format!(
                "r{i}: register(input: {{ email: \"bulk{i}@example.com\", password: \"correct horse battery\", fullName: \"Bulk {i}\" }}) {{ accessToken }} "
            )
        })
        .collect();

    let started = Instant::now();
    let response = system.gql.run(&format!("mutation {{ {registrations} }}"), json!({})).await;
    let elapsed = started.elapsed();

    assert_eq!(response.error_code(), "BAD_USER_INPUT", "{}", response.body);
    assert!(elapsed < Duration::from_millis(500), "answered in {elapsed:?}");
    // No account was created: each e-mail is still free.
    let single = system
        .gql
        .run(
            "mutation { register(input: { email: \"bulk0@example.com\", password: \"correct horse battery\", fullName: \"Bulk 0\" }) { accessToken } }",
            json!({}),
        )
        .await;
    assert!(single.data()["register"]["accessToken"].is_string());
    // Mixing credential mutations is the same: one per request.
    let mixed = system
        .gql
        .run(
            "mutation($e: String!) { login(email: $e, password: \"correct horse battery\") { accessToken } refreshToken(refreshToken: \"x\") { accessToken } }",
            json!({ "e": "bulk0@example.com" }),
        )
        .await;
    assert_eq!(mixed.error_code(), "BAD_USER_INPUT", "{}", mixed.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extreme_month_ranges_are_refused_fast_and_the_subgraph_survives() {
    let system = System::start().await;
    let (_, ada) = system.sign_up("Ada Lovelace").await;
    for (from, to) in [("-262143-01-01", "+262142-11-30"), ("+262142-12-01", "+262142-12-31")] {
        // Aliases multiplied the cost: thirty of the same field.
        let fields: String = (0..30)
            .map(|i| format!("m{i}: applicationsPerMonth(from: \"{from}\", to: \"{to}\") {{ month count }} "))
            .collect();

        let started = Instant::now();
        let response = ada.run(&format!("{{ analytics {{ {fields} }} }}"), json!({})).await;
        let elapsed = started.elapsed();

        assert_eq!(response.error_code(), "BAD_USER_INPUT", "{from}..{to}: {}", response.body);
        assert_eq!(response.error_field(), Some("from"), "{from}..{to}");
        assert!(elapsed < Duration::from_secs(1), "{from}..{to} answered in {elapsed:?}");
    }
    let fine = ada.run("{ analytics { applicationsPerMonth { month } } }", json!({})).await;
    assert_eq!(fine.data()["analytics"]["applicationsPerMonth"].as_array().unwrap().len(), 12);
}
