use serde_json::json;

use crate::helpers::{FIELDS, TestContacts, create};

#[tokio::test]
async fn a_contact_is_created_read_replaced_and_deleted() {
    let app = TestContacts::spawn().await;
    let (_, me) = app.user("Ada").await;

    let created = create(
        &me,
        json!({
            "name": "  Grace Hopper ", "position": "Rear Admiral", "company": "US Navy",
            "email": " Grace@Navy.MIL ", "phone": "+1  555 123 4567",
            "socialLinks": [{ "kind": "WEBSITE", "url": "https://hopper.example/" }],
            "notes": "Met at the conference.\nFollow up in May."
        }),
    )
    .await;
    assert_eq!(created["name"], "Grace Hopper");
    assert_eq!(created["email"], "grace@navy.mil");
    assert_eq!(created["phone"], "+1 555 123 4567");
    assert_eq!(created["socialLinks"], json!([{ "kind": "WEBSITE", "url": "https://hopper.example/" }]));
    assert_eq!(created["notes"], "Met at the conference.\nFollow up in May.");
    assert_eq!(created["user"], json!(null));
    let id = created["id"].clone();

    let read = me.run(&format!("query($id: ID!) {{ contact(id: $id) {{ {FIELDS} }} }}"), json!({ "id": id })).await;
    assert_eq!(read.data()["contact"], created);

    // updateContact replaces the contact: what the input leaves out is cleared.
    let updated = me
        .run(
            "mutation($id: ID!, $i: ContactInput!) { updateContact(id: $id, input: $i) { name company email phone socialLinks { url } notes } }",
            json!({ "id": id, "i": { "name": "Grace B. Hopper", "company": "Remington Rand" } }),
        )
        .await;
    assert_eq!(
        updated.data()["updateContact"],
        json!({ "name": "Grace B. Hopper", "company": "Remington Rand", "email": null, "phone": null, "socialLinks": [], "notes": null })
    );

    let deleted = me.run("mutation($id: ID!) { deleteContact(id: $id) }", json!({ "id": id })).await;
    assert_eq!(deleted.data()["deleteContact"], id);
    let gone = me.run("query($id: ID!) { contact(id: $id) { id } }", json!({ "id": id })).await;
    assert_eq!(gone.error_code(), "NOT_FOUND");
    let again = me.run("mutation($id: ID!) { deleteContact(id: $id) }", json!({ "id": id })).await;
    assert_eq!(again.error_code(), "NOT_FOUND");
}

#[tokio::test]
async fn invalid_input_is_bad_user_input_naming_the_field() {
    let app = TestContacts::spawn().await;
    let (_, me) = app.user("Ada").await;
    let id = create(&me, json!({ "name": "Grace Hopper" })).await["id"].clone();
    let long = "x".repeat(201);

    let cases = [
        (json!({ "name": "   " }), "input.name"),
        (json!({ "name": long }), "input.name"),
        (json!({ "name": "G", "company": long }), "input.company"),
        (json!({ "name": "G", "position": "two\nlines" }), "input.position"),
        (json!({ "name": "G", "email": "grace@navy" }), "input.email"),
        (json!({ "name": "G", "phone": "555-CALL-NOW" }), "input.phone"),
        (
            json!({ "name": "G", "socialLinks": [{ "kind": "OTHER", "url": "javascript:alert(1)" }] }),
            "input.socialLinks.0.url",
        ),
        (
            json!({ "name": "G", "socialLinks": vec![json!({ "kind": "WEBSITE", "url": "https://a.example" }); 11] }),
            "input.socialLinks",
        ),
        (json!({ "name": "G", "notes": "n".repeat(5_001) }), "input.notes"),
    ];
    for (input, field) in &cases {
        let created =
            me.run("mutation($i: ContactInput!) { createContact(input: $i) { id } }", json!({ "i": input })).await;
        assert_eq!((created.error_code(), created.error_field()), ("BAD_USER_INPUT", Some(*field)), "create {input}");
        let updated = me
            .run(
                "mutation($id: ID!, $i: ContactInput!) { updateContact(id: $id, input: $i) { id } }",
                json!({ "id": id, "i": input }),
            )
            .await;
        assert_eq!((updated.error_code(), updated.error_field()), ("BAD_USER_INPUT", Some(*field)), "update {input}");
    }
    // Nothing was written.
    let list = me.run("{ contacts { totalCount edges { node { name } } } }", json!({})).await;
    assert_eq!(list.data()["contacts"], json!({ "totalCount": 1, "edges": [{ "node": { "name": "Grace Hopper" } }] }));
}
