use serde_json::json;

use crate::helpers::TestUsers;

const SAVE: &str = "mutation($id: ID!) { saveProfile(userId: $id) { id savedProfiles { id fullName } } }";
const UNSAVE: &str = "mutation($id: ID!) { unsaveProfile(userId: $id) { id savedProfiles { id } } }";
const SAVED_OF: &str = "query($id: ID!) { user(id: $id) { savedProfiles { id } } }";

#[tokio::test]
async fn save_and_unsave_profiles() {
    let app = TestUsers::spawn().await;
    let (ada, me) = app.sign_up("Ada Lovelace").await;
    let (grace, _) = app.sign_up("Grace Hopper").await;
    let (alan, _) = app.sign_up("Alan Turing").await;

    me.run(SAVE, json!({ "id": grace.user_id })).await.data();
    me.run(SAVE, json!({ "id": grace.user_id })).await.data(); // twice is harmless
    let saved = me.run(SAVE, json!({ "id": alan.user_id })).await;
    let viewer = &saved.data()["saveProfile"];
    assert_eq!(viewer["id"], ada.user_id.as_str());
    // Most recently saved first.
    assert_eq!(
        viewer["savedProfiles"],
        json!([{ "id": alan.user_id, "fullName": "Alan Turing" }, { "id": grace.user_id, "fullName": "Grace Hopper" }])
    );

    let unsaved = me.run(UNSAVE, json!({ "id": alan.user_id })).await;
    assert_eq!(unsaved.data()["unsaveProfile"]["savedProfiles"], json!([{ "id": grace.user_id }]));
}

#[tokio::test]
async fn saved_profiles_are_visible_to_their_owner_only() {
    let app = TestUsers::spawn().await;
    let (ada, me) = app.sign_up("Ada Lovelace").await;
    let (grace, other) = app.sign_up("Grace Hopper").await;
    me.run(SAVE, json!({ "id": grace.user_id })).await.data();

    let as_owner = me.run(SAVED_OF, json!({ "id": ada.user_id })).await;
    assert_eq!(as_owner.data()["user"]["savedProfiles"], json!([{ "id": grace.user_id }]));
    let as_other = other.run(SAVED_OF, json!({ "id": ada.user_id })).await;
    assert_eq!(as_other.data()["user"]["savedProfiles"], json!(null));
    let anonymous = app.users.run(SAVED_OF, json!({ "id": ada.user_id })).await;
    assert_eq!(anonymous.error_code(), "UNAUTHENTICATED");
}

#[tokio::test]
async fn saving_needs_a_real_other_user_and_a_session() {
    let app = TestUsers::spawn().await;
    let (ada, me) = app.sign_up("Ada Lovelace").await;

    let unknown = me.run(SAVE, json!({ "id": uuid::Uuid::now_v7() })).await;
    assert_eq!(unknown.error_code(), "NOT_FOUND");
    let own = me.run(SAVE, json!({ "id": ada.user_id })).await;
    assert_eq!(own.error_code(), "BAD_USER_INPUT");
    let malformed = me.run(SAVE, json!({ "id": "not-an-id" })).await;
    assert_eq!(malformed.error_field(), Some("userId"));
    let anonymous = app.users.run(SAVE, json!({ "id": ada.user_id })).await;
    assert_eq!(anonymous.error_code(), "UNAUTHENTICATED");
    let anonymous_unsave = app.users.run(UNSAVE, json!({ "id": ada.user_id })).await;
    assert_eq!(anonymous_unsave.error_code(), "UNAUTHENTICATED");
}
