use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
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

