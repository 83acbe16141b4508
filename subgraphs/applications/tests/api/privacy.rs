use serde_json::json;

use crate::helpers::{TestApps, create};

#[tokio::test]
async fn another_users_application_is_not_found_everywhere() {
    let app = TestApps::spawn().await;
    let (_, owner) = app.user("Ada").await;
    let (_, other) = app.user("Mallory").await;
    let id = create(&owner, json!({ "company": "Acme", "position": "SRE" })).await["id"].clone();

    let operations = [
        ("query($id: ID!) { application(id: $id) { id } }", json!({ "id": id })),
        ("mutation($id: ID!) { updateApplication(id: $id, input: { company: \"Evil\" }) { id } }", json!({ "id": id })),
        ("mutation($id: ID!) { changeApplicationStatus(id: $id, status: REJECTED) { id } }", json!({ "id": id })),
        ("mutation($id: ID!) { deleteApplication(id: $id) }", json!({ "id": id })),
    ];
    for (query, variables) in &operations {
        let response = other.run(query, variables.clone()).await;
        assert_eq!(response.error_code(), "NOT_FOUND", "{query}");
    }
    let list = other.run("{ applications { totalCount edges { node { id } } } }", json!({})).await;
    assert_eq!(list.data()["applications"]["totalCount"], 0);
    // The entity resolver does not reveal it either.
    let entity = other
        .run(
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Application { id company } } }",
            json!({ "r": [{ "__typename": "Application", "id": id }] }),
        )
        .await;
    assert_eq!(entity.data()["_entities"], json!([null]));

    // And nothing changed for the owner.
    let mine = owner.run("query($id: ID!) { application(id: $id) { company status } }", json!({ "id": id })).await;
    assert_eq!(mine.data()["application"], json!({ "company": "Acme", "status": "SAVED" }));
}

#[tokio::test]
async fn signed_out_callers_are_unauthenticated() {
    let app = TestApps::spawn().await;
    let id = uuid::Uuid::now_v7();
    let operations = [
        "query($id: ID!) { application(id: $id) { id } }",
        "query { applications { totalCount } }",
        "mutation { createApplication(input: { company: \"A\", position: \"B\" }) { id } }",
        "mutation($id: ID!) { updateApplication(id: $id, input: { company: \"A\" }) { id } }",
        "mutation($id: ID!) { changeApplicationStatus(id: $id, status: APPLIED) { id } }",
        "mutation($id: ID!) { deleteApplication(id: $id) }",
    ];
    for query in operations {
        let response = app.anonymous.run(query, json!({ "id": id })).await;
        assert_eq!(response.error_code(), "UNAUTHENTICATED", "{query}");
    }
}

#[tokio::test]
async fn malformed_ids_are_bad_input() {
    let app = TestApps::spawn().await;
    let (_, me) = app.user("Ada").await;
    let response = me.run("{ application(id: \"42\") { id } }", json!({})).await;
    assert_eq!(response.error_field(), Some("id"));
}
