use serde_json::Value;

use crate::helpers::TestAuth;

async fn token(auth: &TestAuth, form: &[(&str, &str)]) -> (u16, Value) {
    let response =
        reqwest::Client::new().post(format!("{}/oauth/token", auth.service.url())).form(form).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn password_and_refresh_token_grants() {
    let auth = TestAuth::spawn().await;
    let account = auth.register("Ada Lovelace").await;

    let (status, granted) =
        token(&auth, &[("grant_type", "password"), ("username", &account.email), ("password", &account.password)])
            .await;
    assert_eq!(status, 200);
    assert_eq!(granted["token_type"], "Bearer");
    assert_eq!(granted["expires_in"], 900);
    let refresh = granted["refresh_token"].as_str().unwrap().to_string();

    let (status, refreshed) = token(&auth, &[("grant_type", "refresh_token"), ("refresh_token", &refresh)]).await;
    assert_eq!(status, 200);
    assert_ne!(refreshed["refresh_token"], refresh.as_str());
    // Rotation applies here too: the spent token is refused.
    let (status, reused) = token(&auth, &[("grant_type", "refresh_token"), ("refresh_token", &refresh)]).await;
    assert_eq!((status, reused["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn token_endpoint_errors_follow_rfc_6749() {
    let auth = TestAuth::spawn().await;
    let account = auth.register("Ada Lovelace").await;

    let (status, body) =
        token(&auth, &[("grant_type", "password"), ("username", &account.email), ("password", "wrong password")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    let (status, body) = token(&auth, &[("grant_type", "client_credentials")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_grant_type")));
    let (status, body) = token(&auth, &[("grant_type", "password"), ("username", &account.email)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
}
