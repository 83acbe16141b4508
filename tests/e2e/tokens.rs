//! A present but invalid token is refused with UNAUTHENTICATED (HTTP 401),
//! whatever is wrong with it; no token means anonymous.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use diesel::sql_types::{Binary, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::helpers::System;

#[derive(diesel::QueryableByName)]
pub(crate) struct Key {
    #[diesel(sql_type = Text)]
    pub(crate) kid: String,
    #[diesel(sql_type = Binary)]
    pub(crate) private_key_der: Vec<u8>,
}

/// auth's real signing key, read from its test database.
pub(crate) async fn signing_key(system: &System) -> Key {
    let url = system.stack.env.database(jobtracker_auth::SERVICE).url();
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    diesel::sql_query("SELECT kid, private_key_der FROM signing_keys WHERE retired_at IS NULL")
        .get_result(&mut conn)
        .await
        .unwrap()
}

pub(crate) fn claims(sub: &str, iat: i64, exp: i64) -> serde_json::Value {
    json!({ "sub": sub, "iss": "jobtracker", "aud": "jobtracker", "iat": iat, "exp": exp, "jti": "t" })
}

pub(crate) fn sign(kid: &str, der: &[u8], claims: &serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(der)).unwrap()
}

fn b64(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

async fn assert_refused(system: &System, authorization: &str, why: &str) {
    let response = system.gql.run_with_authorization(authorization, "{ me { id } }", json!({})).await;
    assert_eq!(response.status, 401, "{why}: {}", response.body);
    assert_eq!(response.error_code(), "UNAUTHENTICATED", "{why}");
    assert!(response.body["data"].is_null(), "{why}: nothing may execute");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_tokens_are_unauthenticated() {
    let system = System::start().await;
    let (ada, _) = system.sign_up("Ada Lovelace").await;
    let key = signing_key(&system).await;
    let now = Utc::now().timestamp();
    let token = &ada.access_token;
    let [header, payload, signature]: [&str; 3] = token.split('.').collect::<Vec<_>>().try_into().unwrap();

    // Sanity: the real key signs tokens the router accepts.
    let valid = sign(&key.kid, &key.private_key_der, &claims(&ada.user_id, now, now + 60));
    let accepted = system.gql.run_with_authorization(&format!("Bearer {valid}"), "{ me { id } }", json!({})).await;
    assert_eq!(accepted.data()["me"]["id"], ada.user_id.as_str());

    // Tampered payload: another user's id under Ada's signature.
    let forged_payload = b64(&claims(&uuid::Uuid::now_v7().to_string(), now, now + 900));
    assert_refused(&system, &format!("Bearer {header}.{forged_payload}.{signature}"), "tampered payload").await;
    // Tampered signature.
    let mut bad_signature = signature.to_string();
    bad_signature.replace_range(0..4, if signature.starts_with("AAAA") { "BBBB" } else { "AAAA" });
    assert_refused(&system, &format!("Bearer {header}.{payload}.{bad_signature}"), "tampered signature").await;
    // Expired, though signed with the real key.
    let expired = sign(&key.kid, &key.private_key_der, &claims(&ada.user_id, now - 3600, now - 1800));
    assert_refused(&system, &format!("Bearer {expired}"), "expired").await;
    // alg: none.
    let none =
        format!("{}.{}.", b64(&json!({ "alg": "none", "typ": "JWT" })), b64(&claims(&ada.user_id, now, now + 900)));
    assert_refused(&system, &format!("Bearer {none}"), "alg none").await;
    // HS256 with the public key as the secret (algorithm confusion).
    let jwks: serde_json::Value = reqwest::get(format!("{}/.well-known/jwks.json", system.stack["auth"].url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public_x = jwks["keys"][0]["x"].as_str().unwrap();
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(key.kid.clone());
    let confused = jsonwebtoken::encode(
        &hs_header,
        &claims(&ada.user_id, now, now + 900),
        &EncodingKey::from_secret(public_x.as_bytes()),
    )
    .unwrap();
    assert_refused(&system, &format!("Bearer {confused}"), "HS256 confusion").await;
    // Signed by a key that is not ours, under our kid.
    let foreign = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let foreign_token =
        sign(&key.kid, foreign.to_pkcs8_der().unwrap().as_bytes(), &claims(&ada.user_id, now, now + 900));
    assert_refused(&system, &format!("Bearer {foreign_token}"), "foreign key").await;
    // Wrong issuer.
    let mut wrong_issuer = claims(&ada.user_id, now, now + 900);
    wrong_issuer["iss"] = json!("someone-else");
    assert_refused(&system, &format!("Bearer {}", sign(&key.kid, &key.private_key_der, &wrong_issuer)), "issuer").await;
    // Garbage.
    assert_refused(&system, "Bearer not-a-token", "garbage").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_requests_pass_and_register_needs_no_token() {
    let system = System::start().await;
    let me = system.gql.run("{ me { id } }", json!({})).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.data()["me"], json!(null));
}
