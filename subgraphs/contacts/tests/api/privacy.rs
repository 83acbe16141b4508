use serde_json::json;

use crate::helpers::{TestContacts, create};

#[tokio::test]
async fn another_users_contact_is_not_found_everywhere() {
    let app = TestContacts::spawn().await;
    let (_, owner) = app.user("Ada").await;
    let (_, other) = app.user("Mallory").await;
    let id = create(&owner, json!({ "name": "Grace Hopper", "company": "US Navy" })).await["id"].clone();

    let operations = [
        "query($id: ID!) { contact(id: $id) { id } }",
        "mutation($id: ID!) { updateContact(id: $id, input: { name: \"Evil\" }) { id } }",
        "mutation($id: ID!) { deleteContact(id: $id) }",
    ];
    for query in operations {
        let response = other.run(query, json!({ "id": id })).await;
        assert_eq!(response.error_code(), "NOT_FOUND", "{query}");
    }
    let list = other.run("{ contacts { totalCount edges { node { id } } } }", json!({})).await;
    assert_eq!(list.data()["contacts"], json!({ "totalCount": 0, "edges": [] }));
    let searched = other.run("{ contacts(search: \"grace\") { totalCount } }", json!({})).await;
    assert_eq!(searched.data()["contacts"]["totalCount"], 0);
    // The entity resolver does not reveal it either, to another user or to no one.
    let entities = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Contact { id name } } }";
    let representations = json!({ "r": [{ "__typename": "Contact", "id": id }] });
    let entity = other.run(entities, representations.clone()).await;
    assert_eq!(entity.data()["_entities"], json!([null]));
    let anonymous = app.anonymous.run(entities, representations.clone()).await;
    assert_eq!(anonymous.data()["_entities"], json!([null]));
    let mine = owner.run(entities, representations).await;
    assert_eq!(mine.data()["_entities"], json!([{ "id": id, "name": "Grace Hopper" }]));

    // And nothing changed for the owner.
    let kept = owner.run("query($id: ID!) { contact(id: $id) { name company } }", json!({ "id": id })).await;
    assert_eq!(kept.data()["contact"], json!({ "name": "Grace Hopper", "company": "US Navy" }));
}

#[tokio::test]
async fn signed_out_callers_are_unauthenticated() {
    let app = TestContacts::spawn().await;
    let id = uuid::Uuid::now_v7();
    let operations = [
        "query($id: ID!) { contact(id: $id) { id } }",
        "query { contacts { totalCount } }",
        "mutation { createContact(input: { name: \"A\" }) { id } }",
        "mutation($id: ID!) { updateContact(id: $id, input: { name: \"A\" }) { id } }",
        "mutation($id: ID!) { deleteContact(id: $id) }",
    ];
    for query in operations {
        let response = app.anonymous.run(query, json!({ "id": id })).await;
        assert_eq!(response.error_code(), "UNAUTHENTICATED", "{query}");
    }
}

#[tokio::test]
async fn malformed_ids_and_cursors_are_bad_input() {
    let app = TestContacts::spawn().await;
    let (_, me) = app.user("Ada").await;
    let response = me.run("{ contact(id: \"42\") { id } }", json!({})).await;
    assert_eq!((response.error_code(), response.error_field()), ("BAD_USER_INPUT", Some("id")));
    let response = me.run("{ contacts(after: \"not a cursor\") { totalCount } }", json!({})).await;
    assert_eq!(response.error_field(), Some("after"));
}
