use futures::StreamExt;
use jobtracker_kit::events::Envelope;
use jobtracker_kit::events::contracts::UserRegistered;
use jobtracker_testkit::gql::REGISTER;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
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
    let bus = &auth.env.bus;
    let connection = bus.connect().await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    jobtracker_kit::events::topology::declare_exchanges(bus, &channel).await.unwrap();
    let queue = channel
        .queue_declare("".into(), QueueDeclareOptions { exclusive: true, ..Default::default() }, FieldTable::default())
        .await
        .unwrap();
    channel
        .queue_bind(
            queue.name().clone(),
            bus.events_exchange().as_str().into(),
            "user.registered".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut deliveries = channel
        .basic_consume(
            queue.name().clone(),
            "".into(),
            BasicConsumeOptions { no_ack: true, ..Default::default() },
            FieldTable::default(),
        )
        .await
        .unwrap();

    let account = auth.register("Grace Hopper").await;

    let delivery = tokio::time::timeout(std::time::Duration::from_secs(10), deliveries.next())
        .await
        .expect("event within 10 s")
        .unwrap()
        .unwrap();
    let envelope: Envelope = serde_json::from_slice(&delivery.data).unwrap();
    assert_eq!(envelope.event_type, "user.registered");
    assert_eq!(envelope.user_id.to_string(), account.user_id);
    assert_eq!(envelope.aggregate_version, 1);
    let payload: UserRegistered = envelope.payload().unwrap();
    assert_eq!(payload.email, account.email);
    assert_eq!(payload.full_name, "Grace Hopper");
}
