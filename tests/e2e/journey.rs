use jobtracker_testkit::{Account, Gql};
use serde_json::json;

use crate::helpers::System;

const LOGIN: &str = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken user { id fullName } } }";
const REFRESH: &str =
    "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken expiresIn user { id email } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_seekers_account_from_registration_to_logout() {
    account_journey(&System::start().await.gql).await;
}

/// The journey through the router at `gql` (also run against two replicas
/// of everything, `chaos::two_replicas_…`).
pub async fn account_journey(gql: &Gql) {
    // Register: the federated user is complete in the same response.
    let registered = gql
        .run(
            "mutation($input: RegisterInput!) { register(input: $input) { accessToken refreshToken expiresIn user { id email fullName createdAt } } }",
            json!({ "input": { "email": "Ada@Example.com", "password": "correct horse battery", "fullName": "Ada Lovelace" } }),
        )
        .await;
    let payload = registered.data()["register"].clone();
    assert_eq!(payload["expiresIn"], 900);
    assert_eq!(payload["user"]["email"], "ada@example.com");
    assert_eq!(payload["user"]["fullName"], "Ada Lovelace");
    let ada_id = payload["user"]["id"].as_str().unwrap().to_string();

    // Login.
    let login = gql.run(LOGIN, json!({ "e": "ada@example.com", "p": "correct horse battery" })).await;
    let session = login.data()["login"].clone();
    assert_eq!(session["user"], json!({ "id": ada_id, "fullName": "Ada Lovelace" }));
    let ada = gql.with_token(session["accessToken"].as_str().unwrap());

    // Me, then update the profile.
    assert_eq!(
        ada.run("{ me { id email } }", json!({})).await.data()["me"],
        json!({ "id": ada_id, "email": "ada@example.com" })
    );
    let updated = ada
        .run(
            "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { headline location skills socialLinks { kind url } } }",
            json!({ "i": { "headline": "Programmer", "location": "London", "skills": ["Mathematics"], "socialLinks": [{ "kind": "WEBSITE", "url": "https://ada.example.com" }] } }),
        )
        .await;
    assert_eq!(updated.data()["updateProfile"]["headline"], "Programmer");

    // Another account sees the public profile and finds it by name.
    let grace = Account::register(gql, "Grace Hopper").await;
    let grace_gql = gql.with_token(&grace.access_token);
    let seen = grace_gql
        .run(
            "query($id: ID!) { user(id: $id) { fullName headline location savedProfiles { id } } }",
            json!({ "id": ada_id }),
        )
        .await;
    assert_eq!(
        seen.data()["user"],
        json!({ "fullName": "Ada Lovelace", "headline": "Programmer", "location": "London", "savedProfiles": null })
    );
    let found = grace_gql.run("{ users(search: \"lovel\") { totalCount edges { node { id } } } }", json!({})).await;
    assert_eq!(found.data()["users"]["totalCount"], 1);
    assert_eq!(found.data()["users"]["edges"][0]["node"]["id"], ada_id.as_str());

    // Save and unsave: the list is the viewer's own.
    let saved = ada
        .run(
            "mutation($id: ID!) { saveProfile(userId: $id) { savedProfiles { id fullName } } }",
            json!({ "id": grace.user_id }),
        )
        .await;
    assert_eq!(
        saved.data()["saveProfile"]["savedProfiles"],
        json!([{ "id": grace.user_id, "fullName": "Grace Hopper" }])
    );
    let own_list = ada.run("{ me { savedProfiles { id } } }", json!({})).await;
    assert_eq!(own_list.data()["me"]["savedProfiles"], json!([{ "id": grace.user_id }]));
    let unsaved = ada
        .run(
            "mutation($id: ID!) { unsaveProfile(userId: $id) { savedProfiles { id } } }",
            json!({ "id": grace.user_id }),
        )
        .await;
    assert_eq!(unsaved.data()["unsaveProfile"]["savedProfiles"], json!([]));

    // Refresh rotates; the old refresh token is spent.
    let refreshed = gql.run(REFRESH, json!({ "t": session["refreshToken"] })).await;
    let rotated = refreshed.data()["refreshToken"].clone();
    assert_eq!(rotated["user"], json!({ "id": ada_id, "email": "ada@example.com" }));
    let new_token = gql.with_token(rotated["accessToken"].as_str().unwrap());
    assert_eq!(new_token.run("{ me { id } }", json!({})).await.data()["me"]["id"], ada_id.as_str());

    // Logout revokes the login.
    let logout =
        gql.run("mutation($t: String!) { logout(refreshToken: $t) }", json!({ "t": rotated["refreshToken"] })).await;
    assert_eq!(logout.data()["logout"], true);
    let after = gql.run(REFRESH, json!({ "t": rotated["refreshToken"] })).await;
    assert_eq!(after.error_code(), "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_out_visitors_see_no_profiles_and_no_me() {
    let system = System::start().await;
    let (ada, ada_gql) = system.sign_up("Ada Lovelace").await;
    system.sign_up("Grace Hopper").await;

    assert_eq!(system.gql.run("{ me { id } }", json!({})).await.data()["me"], json!(null));
    // The attack: an empty search dumping every profile with e-mail and phone.
    let dump = "{ users(search: \"\", first: 100) { totalCount edges { node { email phone } } } }";
    let anonymous_dump = system.gql.run(dump, json!({})).await;
    assert_eq!(anonymous_dump.error_code(), "UNAUTHENTICATED");
    assert!(anonymous_dump.body["data"].is_null(), "nothing listed: {}", anonymous_dump.body);
    let profile =
        system.gql.run("query($id: ID!) { user(id: $id) { email phone } }", json!({ "id": ada.user_id })).await;
    assert_eq!(profile.error_code(), "UNAUTHENTICATED");
    assert_eq!(profile.body["data"]["user"], json!(null), "{}", profile.body);
    // Signed in, a search is still a search: not "" nor one letter.
    for search in ["", "  ", "a"] {
        let response =
            ada_gql.run("query($s: String!) { users(search: $s) { totalCount } }", json!({ "s": search })).await;
        assert_eq!(response.error_code(), "BAD_USER_INPUT", "{search:?}");
        assert_eq!(response.error_field(), Some("search"), "{search:?}");
    }
    let found = ada_gql.run("{ users(search: \"gr\") { totalCount } }", json!({})).await;
    assert_eq!(found.data()["users"]["totalCount"], 1);
    for mutation in [
        "mutation { updateProfile(input: { headline: \"x\" }) { id } }",
        "mutation($id: ID!) { saveProfile(userId: $id) { id } }",
        "mutation($id: ID!) { unsaveProfile(userId: $id) { id } }",
    ] {
        let response = system.gql.run(mutation, json!({ "id": ada.user_id })).await;
        assert_eq!(response.error_code(), "UNAUTHENTICATED", "{mutation}");
    }
}
