use jobtracker_kit::events::contracts::UserRegistered;
use jobtracker_testkit::EventTap;
use jobtracker_testkit::gql::REGISTER;
use serde_json::json;

use crate::helpers::{LOGIN, TestAuth};

fn input(email: &str, password: &str, name: &str) -> serde_json::Value {
    json!({ "input": { "email": email, "password": password, "fullName": name } })
}

#[tokio::test]
async fn register_returns_a_session_and_a_user_reference() {
    let auth = TestAuth::spawn().await;

    let response = auth.gql.run(REGISTER, input("ada@example.com", "correct horse battery", "Ada Lovelace")).await;

    let payload = &response.data()["register"];
    assert_eq!(payload["expiresIn"], 900);
    assert!(payload["accessToken"].as_str().unwrap().split('.').count() == 3);
    assert!(payload["refreshToken"].as_str().unwrap().len() >= 40);
    assert!(uuid::Uuid::parse_str(payload["user"]["id"].as_str().unwrap()).is_ok());
}

#[tokio::test]
async fn email_is_case_insensitive_and_duplicates_are_a_conflict() {
    let auth = TestAuth::spawn().await;
    let query = "mutation($input: RegisterInput!) { register(input: $input) { user { id } } }";
    auth.gql.run(query, input("  Ada@Example.COM ", "correct horse battery", "Ada")).await.data();

    let duplicate = auth.gql.run(query, input("ada@example.com", "another password!", "Impostor")).await;
    assert_eq!(duplicate.error_code(), "CONFLICT");

    let login = auth.gql.run(LOGIN, json!({ "email": "ADA@example.com", "password": "correct horse battery" })).await;
    assert!(login.data()["login"]["accessToken"].is_string());
}

#[tokio::test]
async fn bad_input_names_the_field() {
    let auth = TestAuth::spawn().await;
    let query = "mutation($input: RegisterInput!) { register(input: $input) { user { id } } }";
    let cases = [
        (input("not-an-email", "correct horse battery", "Ada"), "input.email"),
        (input("ada@localhost", "correct horse battery", "Ada"), "input.email"),
        (input("ada@example.com", "123456789", "Ada"), "input.password"),
        (input("ada@example.com", "correct horse battery", "   "), "input.fullName"),
    ];
    for (variables, field) in cases {
        let response = auth.gql.run(query, variables).await;
        assert_eq!(response.error_code(), "BAD_USER_INPUT", "{field}");
        assert_eq!(response.error_field(), Some(field));
    }
}

#[tokio::test]
async fn registration_is_published_as_user_registered() {
    let auth = TestAuth::spawn().await;
    let mut tap = EventTap::start(&auth.env.bus, "user.registered").await;

    let account = auth.register("Grace Hopper").await;

    let envelope = tap.take(1).await.remove(0);
    assert_eq!(envelope.event_type, "user.registered");
    assert_eq!(envelope.user_id.to_string(), account.user_id);
    assert_eq!(envelope.aggregate_version, 1);
    let payload: UserRegistered = envelope.payload().unwrap();
    assert_eq!(payload.email, account.email);
    assert_eq!(payload.full_name, "Grace Hopper");
}
