use serde_json::json;

use crate::helpers::System;

const REGISTER: &str = "mutation($i: RegisterInput!) { register(input: $i) { user { id } } }";
const LOGIN: &str = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_bad_user_input_error_naming_the_field() {
    let system = System::start().await;
    let (_, ada) = system.sign_up("Ada Lovelace").await;
    let cases = [
        (
            REGISTER,
            json!({ "i": { "email": "nope", "password": "correct horse battery", "fullName": "A" } }),
            "input.email",
        ),
        (
            REGISTER,
            json!({ "i": { "email": "a@example.com", "password": "short", "fullName": "A" } }),
            "input.password",
        ),
        (
            REGISTER,
            json!({ "i": { "email": "a@example.com", "password": "correct horse battery", "fullName": "" } }),
            "input.fullName",
        ),
    ];
    for (query, variables, field) in cases {
        let response = system.gql.run(query, variables).await;
        assert_eq!(response.error_code(), "BAD_USER_INPUT");
        assert_eq!(response.error_field(), Some(field));
    }
    let profile = ada
        .run(
            "mutation { updateProfile(input: { socialLinks: [{ kind: GITHUB, url: \"github.com/ada\" }] }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(profile.error_field(), Some("input.socialLinks.0.url"));
    let page = ada.run("{ users(search: \"ad\", first: 1000) { totalCount } }", json!({})).await;
    assert_eq!(page.error_field(), Some("first"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_email_is_a_conflict_and_login_failures_do_not_reveal_accounts() {
    let system = System::start().await;
    let (ada, _) = system.sign_up("Ada Lovelace").await;

    let duplicate = system
        .gql
        .run(
            REGISTER,
            json!({ "i": { "email": ada.email.to_uppercase(), "password": "another password", "fullName": "Copy" } }),
        )
        .await;
    assert_eq!(duplicate.error_code(), "CONFLICT");

    let wrong_password = system.gql.run(LOGIN, json!({ "e": ada.email, "p": "not the password" })).await;
    let unknown = system.gql.run(LOGIN, json!({ "e": "nobody@example.com", "p": "not the password" })).await;
    assert_eq!(wrong_password.body["errors"][0]["message"], unknown.body["errors"][0]["message"]);
    assert_eq!(wrong_password.error_code(), "UNAUTHENTICATED");
    assert_eq!(unknown.error_code(), "UNAUTHENTICATED");

    for _ in 0..4 {
        system.gql.run(LOGIN, json!({ "e": ada.email, "p": "still not it" })).await;
    }
    let throttled = system.gql.run(LOGIN, json!({ "e": ada.email, "p": ada.password })).await;
    assert_eq!(throttled.error_code(), "RATE_LIMITED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_records_and_malformed_ids() {
    let system = System::start().await;
    let (_, ada) = system.sign_up("Ada Lovelace").await;
    let missing = ada.run("query($id: ID!) { user(id: $id) { id } }", json!({ "id": uuid::Uuid::now_v7() })).await;
    assert_eq!(missing.data()["user"], json!(null));
    let save_missing =
        ada.run("mutation($id: ID!) { saveProfile(userId: $id) { id } }", json!({ "id": uuid::Uuid::now_v7() })).await;
    assert_eq!(save_missing.error_code(), "NOT_FOUND");
    let malformed = ada.run("{ user(id: \"x\") { id } }", json!({})).await;
    assert_eq!(malformed.error_code(), "BAD_USER_INPUT");
}
