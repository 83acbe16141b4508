use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jobtracker_kit::service_token::ServiceToken;
use jobtracker_testkit::{Account, Gql, Running, TestEnv, spawn};
use serde_json::json;

use crate::helpers::{PROFILE_FIELDS, TestUsers};

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
}

#[tokio::test]
async fn the_profile_exists_as_soon_as_register_returns() {
    let app = TestUsers::spawn().await;
    let (account, me) = app.sign_up("Ada Lovelace").await;

    let response = me.run(&format!("{{ me {{ {PROFILE_FIELDS} }} }}"), json!({})).await;

    let profile = &response.data()["me"];
    assert_eq!(profile["id"], account.user_id.as_str());
    assert_eq!(profile["email"], account.email.as_str());
    assert_eq!(profile["fullName"], "Ada Lovelace");
    assert_eq!(profile["skills"], json!([]));
}

#[tokio::test]
async fn the_registration_event_alone_creates_the_profile() {
    let app = TestUsers::spawn().await;
    let (account, _) = app.sign_up("Grace Hopper").await;

    // Read users' database directly (no query that could take the fallback path).
    let url = app.stack.env.database(jobtracker_users::SERVICE).url();
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let found: Count =
            diesel::sql_query("SELECT count(*) AS count FROM profiles WHERE id = $1 AND full_name = 'Grace Hopper'")
                .bind::<diesel::sql_types::Uuid, _>(uuid::Uuid::parse_str(&account.user_id).unwrap())
                .get_result(&mut conn)
                .await
                .unwrap();
        if found.count == 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "user.registered was not consumed within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn signed_out_me_is_null_and_a_bad_token_is_unauthenticated() {
    let app = TestUsers::spawn().await;

    let anonymous = app.users.run("{ me { id } }", json!({})).await;
    assert_eq!(anonymous.data()["me"], json!(null));

    let forged = app.users.with_token("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.").run("{ me { id } }", json!({})).await;
    assert_eq!(forged.error_code(), "UNAUTHENTICATED");
}

#[tokio::test]
async fn unknown_or_malformed_user_ids() {
    let app = TestUsers::spawn().await;
    let (_, viewer) = app.sign_up("Ada Lovelace").await;

    let unknown = viewer.run("query($id: ID!) { user(id: $id) { id } }", json!({ "id": uuid::Uuid::now_v7() })).await;
    assert_eq!(unknown.data()["user"], json!(null));

    let malformed = viewer.run("{ user(id: \"42\") { id } }", json!({})).await;
    assert_eq!(malformed.error_code(), "BAD_USER_INPUT");
    assert_eq!(malformed.error_field(), Some("id"));
}

/// users started on its own event namespace: it never hears `user.registered`,
/// so every profile it serves comes from auth's internal lookup.
async fn deaf_users(env: &TestEnv, auth_url: &str, token: Option<ServiceToken>) -> Running {
    let mut deaf = env.clone();
    deaf.bus.prefix = format!("{}-deaf", env.bus.prefix);
    let config = jobtracker_users::Config {
        service: deaf.service_config(jobtracker_users::SERVICE),
        auth_url: auth_url.to_string(),
        service_token: token,
    };
    Running::start(jobtracker_users::build(config).await.expect("users starts"))
}

#[tokio::test]
async fn a_profile_not_yet_heard_of_is_fetched_from_auth_with_the_service_token() {
    let env = TestEnv::new();
    let auth = spawn(&jobtracker_auth::SPEC, env.service_env(&jobtracker_auth::SPEC)).await;
    let users = deaf_users(&env, &auth.url(), Some(env.service_token.clone())).await;
    let account = Account::register(&Gql::new(auth.graphql_url()), "Ada Lovelace").await;

    let me =
        Gql::new(users.graphql_url()).with_token(&account.access_token).run("{ me { id email } }", json!({})).await;

    assert_eq!(me.data()["me"], json!({ "id": account.user_id, "email": account.email }));
}

#[tokio::test]
async fn with_the_wrong_service_token_auth_refuses_the_lookup() {
    let env = TestEnv::new();
    let auth = spawn(&jobtracker_auth::SPEC, env.service_env(&jobtracker_auth::SPEC)).await;
    let users = deaf_users(&env, &auth.url(), Some(ServiceToken::generate())).await;
    let account = Account::register(&Gql::new(auth.graphql_url()), "Ada Lovelace").await;

    let me =
        Gql::new(users.graphql_url()).with_token(&account.access_token).run("{ me { id email } }", json!({})).await;

    assert_eq!(me.error_code(), "INTERNAL", "{}", me.body);
    assert!(!me.body.to_string().contains(&account.email));
}
