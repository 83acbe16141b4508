use serde_json::json;

use crate::helpers::{PROFILE_FIELDS, TestUsers};

fn update() -> String {
    format!("mutation($input: UpdateProfileInput!) {{ updateProfile(input: $input) {{ {PROFILE_FIELDS} }} }}")
}

#[tokio::test]
async fn update_profile_sets_keeps_and_clears() {
    let app = TestUsers::spawn().await;
    let (_, me) = app.sign_up("Ada Lovelace").await;

    let set = me
        .run(
            &update(),
            json!({ "input": {
            "phone": "+44 20 7946 0958",
            "location": "London",
            "headline": "Analytical engine programmer",
            "skills": ["Mathematics", " mathematics ", "Poetry"],
            "socialLinks": [{ "kind": "GITHUB", "url": "https://github.com/ada" }],
        } }),
        )
        .await;
    let profile = &set.data()["updateProfile"];
    assert_eq!(profile["phone"], "+44 20 7946 0958");
    assert_eq!(profile["skills"], json!(["Mathematics", "Poetry"]));
    assert_eq!(profile["socialLinks"], json!([{ "kind": "GITHUB", "url": "https://github.com/ada" }]));

    // Absent keeps, null clears.
    let cleared = me.run(&update(), json!({ "input": { "location": null, "fullName": "Augusta Ada King" } })).await;
    let profile = &cleared.data()["updateProfile"];
    assert_eq!(profile["location"], json!(null));
    assert_eq!(profile["headline"], "Analytical engine programmer");
    assert_eq!(profile["fullName"], "Augusta Ada King");

    // Persisted: read back as another user.
    let (_, other) = app.sign_up("Grace Hopper").await;
    let read = other
        .run("query($id: ID!) { user(id: $id) { fullName location headline } }", json!({ "id": profile["id"] }))
        .await;
    assert_eq!(
        read.data()["user"],
        json!({ "fullName": "Augusta Ada King", "location": null, "headline": "Analytical engine programmer" })
    );
}

#[tokio::test]
async fn invalid_profile_input_names_the_field() {
    let app = TestUsers::spawn().await;
    let (_, me) = app.sign_up("Ada Lovelace").await;
    let cases = [
        (json!({ "phone": "call me maybe" }), "input.phone"),
        (json!({ "fullName": null }), "input.fullName"),
        (json!({ "fullName": "  " }), "input.fullName"),
        (json!({ "headline": "x".repeat(201) }), "input.headline"),
        (json!({ "skills": ["ok", "y".repeat(51)] }), "input.skills.1"),
        (json!({ "socialLinks": [{ "kind": "WEBSITE", "url": "javascript:alert(1)" }] }), "input.socialLinks.0.url"),
        (json!({ "socialLinks": [{ "kind": "WEBSITE", "url": "ftp://example.com" }] }), "input.socialLinks.0.url"),
    ];
    for (input, field) in cases {
        let response = me.run(&update(), json!({ "input": input })).await;
        assert_eq!(response.error_code(), "BAD_USER_INPUT", "{input}");
        assert_eq!(response.error_field(), Some(field), "{input}");
    }
}

#[tokio::test]
async fn a_full_name_with_control_characters_is_refused_as_at_registration() {
    let app = TestUsers::spawn().await;
    let (_, me) = app.sign_up("Ada Lovelace").await;
    for name in ["Ada\u{0}Lovelace", "Ada \u{1b}[2J", "Ada\u{7f}"] {
        let response = me.run(&update(), json!({ "input": { "fullName": name } })).await;
        assert_eq!(response.error_code(), "BAD_USER_INPUT", "{name:?}");
        assert_eq!(response.error_field(), Some("input.fullName"), "{name:?}");
    }
    // White space is still only collapsed.
    let response = me.run(&update(), json!({ "input": { "fullName": " Ada\t\nKing " } })).await;
    assert_eq!(response.data()["updateProfile"]["fullName"], "Ada King");
}

#[tokio::test]
async fn updating_a_profile_requires_signing_in() {
    let app = TestUsers::spawn().await;
    let response = app.users.run(&update(), json!({ "input": { "headline": "x" } })).await;
    assert_eq!(response.error_code(), "UNAUTHENTICATED");
}
