use jobtracker_kit::auth::TokenVerifier;
use serde_json::json;

use crate::helpers::{LOGOUT, REFRESH, TestAuth};

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_the_login() {
    let auth = TestAuth::spawn().await;
    let account = auth.register("Ada Lovelace").await;

    let first = auth.gql.run(REFRESH, json!({ "token": account.refresh_token })).await;
    let rotated = first.data()["refreshToken"]["refreshToken"].as_str().unwrap().to_string();
    assert_ne!(rotated, account.refresh_token);
    assert_eq!(first.data()["refreshToken"]["user"]["id"], account.user_id.as_str());

    // The spent token is refused, and its reuse revokes the whole login...
    let reuse = auth.gql.run(REFRESH, json!({ "token": account.refresh_token })).await;
    assert_eq!(reuse.error_code(), "UNAUTHENTICATED");
    // ...so even the legitimately rotated token no longer works.
    let after_reuse = auth.gql.run(REFRESH, json!({ "token": rotated })).await;
    assert_eq!(after_reuse.error_code(), "UNAUTHENTICATED");
}

#[tokio::test]
async fn logout_revokes_the_refresh_token() {
    let auth = TestAuth::spawn().await;
    let account = auth.register("Ada Lovelace").await;

    let logout = auth.gql.run(LOGOUT, json!({ "token": account.refresh_token })).await;
    assert_eq!(logout.data()["logout"], true);

    let refresh = auth.gql.run(REFRESH, json!({ "token": account.refresh_token })).await;
    assert_eq!(refresh.error_code(), "UNAUTHENTICATED");
    let again = auth.gql.run(LOGOUT, json!({ "token": account.refresh_token })).await;
    assert_eq!(again.data()["logout"], false);
    let unknown = auth.gql.run(REFRESH, json!({ "token": "made-up" })).await;
    assert_eq!(unknown.error_code(), "UNAUTHENTICATED");
}

#[tokio::test]
async fn access_tokens_verify_against_the_published_jwks() {
    let auth = TestAuth::spawn().await;
    let account = auth.register("Ada Lovelace").await;

    let jwks: serde_json::Value =
        reqwest::get(format!("{}/.well-known/jwks.json", auth.service.url())).await.unwrap().json().await.unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");

    let verifier = TokenVerifier::remote(format!("{}/.well-known/jwks.json", auth.service.url()));
    let viewer = verifier.verify(&account.access_token).await.expect("token verifies");
    assert_eq!(viewer.user_id.to_string(), account.user_id);

    let header = jsonwebtoken::decode_header(&account.access_token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), jwks["keys"][0]["kid"].as_str());
}

#[tokio::test]
async fn the_signing_key_survives_a_restart() {
    let auth = TestAuth::spawn().await;
    let account = auth.register("Ada Lovelace").await;
    let jwks_before: serde_json::Value =
        reqwest::get(format!("{}/.well-known/jwks.json", auth.service.url())).await.unwrap().json().await.unwrap();
    let env = auth.env.clone();
    auth.service.stop().await.expect("clean stop");

    let restarted = TestAuth::spawn_in(env).await;
    let jwks_after: serde_json::Value =
        reqwest::get(format!("{}/.well-known/jwks.json", restarted.service.url())).await.unwrap().json().await.unwrap();

    assert_eq!(jwks_before, jwks_after);
    let verifier = TokenVerifier::remote(format!("{}/.well-known/jwks.json", restarted.service.url()));
    assert!(verifier.verify(&account.access_token).await.is_ok());
    // Sessions survive too.
    let refresh = restarted.gql.run(REFRESH, json!({ "token": account.refresh_token })).await;
    assert!(refresh.data()["refreshToken"]["accessToken"].is_string());
}
