use serde_json::json;

use crate::helpers::{LOGIN, TestAuth};

#[tokio::test]
async fn login_returns_a_new_session() {
    let auth = TestAuth::spawn().await;
    let account = auth.register("Ada Lovelace").await;

    let response = auth.gql.run(LOGIN, json!({ "email": account.email, "password": account.password })).await;

    let payload = &response.data()["login"];
    assert_eq!(payload["user"]["id"], account.user_id.as_str());
    assert_ne!(payload["refreshToken"], account.refresh_token.as_str());
}

#[tokio::test]
async fn unknown_email_and_wrong_password_fail_alike() {
    let auth = TestAuth::spawn().await;
    let account = auth.register("Ada Lovelace").await;

    let wrong_password = auth.gql.run(LOGIN, json!({ "email": account.email, "password": "wrong password!" })).await;
    let unknown_email =
        auth.gql.run(LOGIN, json!({ "email": "nobody@example.com", "password": "wrong password!" })).await;
    let malformed_email = auth.gql.run(LOGIN, json!({ "email": "nobody", "password": "wrong password!" })).await;

    for response in [&wrong_password, &unknown_email, &malformed_email] {
        assert_eq!(response.error_code(), "UNAUTHENTICATED");
        assert_eq!(response.errors()[0]["message"], "invalid e-mail or password");
    }
}

#[tokio::test]
async fn repeated_failures_for_one_email_are_throttled() {
    let auth = TestAuth::spawn().await;
    let account = auth.register("Ada Lovelace").await;
    for _ in 0..5 {
        let response = auth.gql.run(LOGIN, json!({ "email": account.email, "password": "guess guess guess" })).await;
        assert_eq!(response.error_code(), "UNAUTHENTICATED");
    }

    // Even the right password is refused while throttled.
    let throttled = auth.gql.run(LOGIN, json!({ "email": account.email, "password": account.password })).await;
    assert_eq!(throttled.error_code(), "RATE_LIMITED");
    let retry_after = throttled.errors()[0]["extensions"]["retryAfter"].as_u64().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");

    // Another e-mail is not affected.
    let other = auth.register("Grace Hopper").await;
    let response = auth.gql.run(LOGIN, json!({ "email": other.email, "password": other.password })).await;
    assert!(response.data()["login"]["accessToken"].is_string());
}

#[tokio::test]
async fn unknown_emails_are_throttled_too() {
    let auth = TestAuth::spawn().await;
    for _ in 0..5 {
        auth.gql.run(LOGIN, json!({ "email": "ghost@example.com", "password": "guess guess guess" })).await;
    }
    let response = auth.gql.run(LOGIN, json!({ "email": "ghost@example.com", "password": "guess guess guess" })).await;
    assert_eq!(response.error_code(), "RATE_LIMITED");
}
