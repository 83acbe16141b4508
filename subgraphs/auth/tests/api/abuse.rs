//! What an anonymous caller can make auth do: how many password checks one
//! e-mail gets however the guesses are sent, and how much hashing runs at once.

use std::time::{Duration, Instant};

use futures::future::join_all;
use jobtracker_testkit::{Gql, Running, TestEnv};
use serde_json::json;

use crate::helpers::{LOGIN, TestAuth};

fn count(codes: &[String], code: &str) -> usize {
    codes.iter().filter(|c| *c == code).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_passwords_for_one_email_get_exactly_the_allowed_checks() {
    let auth = TestAuth::spawn().await;
    let account = auth.register("Ada Lovelace").await;

    // 25 guesses at once: a check-then-act throttle let every one through.
    let guesses = (0..25).map(|i| {
        let gql = auth.gql.clone();
        let email = account.email.clone();
        async move { gql.run(LOGIN, json!({ "email": email, "password": format!("guess number {i}") })).await }
    });
    let codes: Vec<String> = join_all(guesses).await.iter().map(|r| r.error_code().to_string()).collect();

    assert_eq!(count(&codes, "UNAUTHENTICATED"), 5, "checked: {codes:?}");
    assert_eq!(count(&codes, "RATE_LIMITED"), 20, "refused: {codes:?}");
    // And the window is closed for the right password too.
    let after = auth.gql.run(LOGIN, json!({ "email": account.email, "password": account.password })).await;
    assert_eq!(after.error_code(), "RATE_LIMITED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successful_login_starts_the_count_over() {
    let auth = TestAuth::spawn().await;
    let account = auth.register("Ada Lovelace").await;
    for _ in 0..4 {
        auth.gql.run(LOGIN, json!({ "email": account.email, "password": "typo typo typo" })).await;
    }
    let ok = auth.gql.run(LOGIN, json!({ "email": account.email, "password": account.password })).await;
    assert!(ok.data()["login"]["accessToken"].is_string());

    for _ in 0..4 {
        let response = auth.gql.run(LOGIN, json!({ "email": account.email, "password": "typo typo typo" })).await;
        assert_eq!(response.error_code(), "UNAUTHENTICATED");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_credential_mutations_in_one_request_are_refused_before_hashing() {
    let auth = TestAuth::spawn().await;
    let account = auth.register("Ada Lovelace").await;
    let logins: String = (0..30)
        .map(|i| format!("l{i}: login(email: \"{}\", password: \"guess {i} guess\") {{ accessToken }} ", account.email))
        .collect();

    let started = Instant::now();
    let response = auth.gql.run(&format!("mutation {{ {logins} }}"), json!({})).await;

    assert_eq!(response.error_code(), "BAD_USER_INPUT", "{}", response.body);
    assert_eq!(response.error_field(), Some("l1"));
    assert!(response.body["data"].is_null(), "nothing ran: {}", response.body);
    assert!(started.elapsed() < Duration::from_millis(500), "no hashing: {:?}", started.elapsed());
    // Nothing was counted against the e-mail: five guesses are still allowed.
    for _ in 0..5 {
        let guess = auth.gql.run(LOGIN, json!({ "email": account.email, "password": "one at a time" })).await;
        assert_eq!(guess.error_code(), "UNAUTHENTICATED");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_hashing_beyond_the_bound_is_rate_limited_not_queued() {
    // One hash at a time, one more waiting: the rest are refused at once.
    let env = TestEnv::new();
    let config = jobtracker_auth::Config { max_concurrent_hashes: 1, ..TestAuth::config(&env) };
    let service = Running::start(jobtracker_auth::build(config).await.expect("auth starts"));
    let gql = Gql::new(service.graphql_url());
    let register = "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }";

    let attempts = (0..16).map(|i| {
        let gql = gql.clone();
        async move {
            let input = json!({ "email": format!("user{i}@example.com"), "password": "correct horse battery", "fullName": "Someone" });
            gql.run(register, json!({ "i": input })).await
        }
    });
    let responses = join_all(attempts).await;

    let registered = responses.iter().filter(|r| r.errors().is_empty()).count();
    let refused: Vec<_> = responses.iter().filter(|r| !r.errors().is_empty()).collect();
    assert!(registered >= 2, "the admitted ones are served: {registered}");
    assert!(!refused.is_empty(), "16 at once exceed 1 running + 1 waiting");
    for response in &refused {
        assert_eq!(response.error_code(), "RATE_LIMITED", "{}", response.body);
        assert_eq!(response.errors()[0]["extensions"]["retryAfter"], 1);
    }
    // Once the burst is over, hashing is available again.
    let later = gql
        .run(
            register,
            json!({ "i": { "email": "later@example.com", "password": "correct horse battery", "fullName": "Later" } }),
        )
        .await;
    assert!(later.data()["register"]["accessToken"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_internal_account_lookup_needs_the_service_token() {
    let auth = TestAuth::spawn().await;
    let account = auth.register("Ada Lovelace").await;
    let url = format!("{}/internal/accounts/{}", auth.service.url(), account.user_id);
    let http = reqwest::Client::new();
    let lookup = |token: Option<String>| {
        let mut request = http.get(&url);
        if let Some(token) = token {
            request = request.header("x-service-token", token);
        }
        request.send()
    };

    let anonymous = lookup(None).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(!anonymous.text().await.unwrap().contains(&account.email), "no e-mail without the credential");
    let wrong = lookup(Some("x".repeat(64))).await.unwrap();
    assert_eq!(wrong.status(), 403);
    let almost = lookup(Some(auth.env.service_token.expose()[..63].to_string())).await.unwrap();
    assert_eq!(almost.status(), 403);

    let right = lookup(Some(auth.env.service_token.expose().to_string())).await.unwrap();
    assert_eq!(right.status(), 200);
    let body: serde_json::Value = right.json().await.unwrap();
    assert_eq!(body["email"], account.email.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_service_token_auth_refuses_every_internal_call() {
    let env = TestEnv::new();
    let config = jobtracker_auth::Config { service_token: None, ..TestAuth::config(&env) };
    let service = Running::start(jobtracker_auth::build(config).await.expect("auth starts"));
    let url = format!("{}/internal/accounts/{}", service.url(), uuid::Uuid::now_v7());

    for token in [None, Some(env.service_token.expose().to_string()), Some(String::new())] {
        let mut request = reqwest::Client::new().get(&url);
        if let Some(token) = &token {
            request = request.header("x-service-token", token);
        }
        assert_eq!(request.send().await.unwrap().status(), 403, "{token:?}");
    }
}
