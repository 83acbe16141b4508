//! Contacts through the router: a contact whose e-mail is a registered
//! user's shows that user, completed by the router from the users subgraph;
//! another user's contact is NOT_FOUND.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::System;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_shows_the_registered_user_with_its_email_completed_from_users() {
    let system = System::start().await;
    let (_, ada) = system.sign_up("Ada Lovelace").await;
    let (grace, _) = system.sign_up("Grace Hopper").await;
    let (_, mallory) = system.sign_up("Mallory").await;

    let created = ada
        .run(
            "mutation($i: ContactInput!) { createContact(input: $i) { id } }",
            json!({ "i": { "name": "Grace", "company": "US Navy", "email": grace.email.to_uppercase() } }),
        )
        .await;
    let id = created.data()["createContact"]["id"].clone();

    // contacts learns Grace's e-mail from her registration event: within seconds.
    let query = "{ contacts { totalCount edges { node { name user { id fullName } } } } }";
    let deadline = Instant::now() + Duration::from_secs(15);
    let contacts = loop {
        let response = ada.run(query, json!({})).await;
        let contacts = response.data()["contacts"].clone();
        if !contacts["edges"][0]["node"]["user"].is_null() {
            break contacts;
        }
        assert!(Instant::now() < deadline, "the contact was not linked: {contacts}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        contacts,
        json!({ "totalCount": 1, "edges": [{ "node": { "name": "Grace", "user": { "id": grace.user_id, "fullName": "Grace Hopper" } } }] })
    );

    for query in [
        "query($id: ID!) { contact(id: $id) { id } }",
        "mutation($id: ID!) { updateContact(id: $id, input: { name: \"x\" }) { id } }",
        "mutation($id: ID!) { deleteContact(id: $id) }",
    ] {
        let response = mallory.run(query, json!({ "id": id })).await;
        assert_eq!(response.error_code(), "NOT_FOUND", "{query}: {}", response.body);
    }
    let theirs = mallory.run("{ contacts { totalCount } }", json!({})).await;
    assert_eq!(theirs.data()["contacts"]["totalCount"], 0);
    let anonymous = system.gql.run("{ contacts { totalCount } }", json!({})).await;
    assert_eq!(anonymous.error_code(), "UNAUTHENTICATED");
}
