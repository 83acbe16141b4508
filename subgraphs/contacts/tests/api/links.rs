//! The link from a contact to the registered user with its e-mail, kept by
//! contacts' replica of users' e-mails (fed by real events).

use chrono::Utc;
use jobtracker_kit::events::Envelope;
use jobtracker_kit::events::contracts::{USER_UPDATED, UserUpdated};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestContacts, create, linked_user, wait_for_link};

fn unique(name: &str) -> String {
    format!("{name}-{}@example.com", &Uuid::new_v4().simple().to_string()[..8])
}

/// users' `user.updated` for a changed e-mail, at `version`.
fn email_changed(user_id: &str, email: &str, version: i64) -> Envelope {
    let id = Uuid::parse_str(user_id).unwrap();
    let payload = UserUpdated {
        user_id: id,
        email: email.to_string(),
        full_name: "Grace Hopper".into(),
        phone: None,
        location: None,
        headline: None,
        skills: Vec::new(),
        updated_at: Utc::now(),
    };
    Envelope::new(USER_UPDATED, id, id, version, &payload)
}

#[tokio::test]
async fn a_contact_links_when_that_person_registers_later() {
    let app = TestContacts::spawn().await;
    let (_, ada) = app.user("Ada").await;
    let email = unique("grace");
    // Written differently from the account: e-mails match ignoring case.
    let contact = create(&ada, json!({ "name": "Grace", "email": email.to_uppercase() })).await;
    assert_eq!(contact["user"], json!(null));

    let grace = app.register_as(&email, "Grace Hopper").await;

    wait_for_link(&ada, &contact["id"], json!(grace)).await;
}

#[tokio::test]
async fn a_contact_for_a_known_email_links_at_once_and_follows_its_own_email() {
    let app = TestContacts::spawn().await;
    let (_, ada) = app.user("Ada").await;
    let (grace_email, linus_email) = (unique("grace"), unique("linus"));
    let grace = app.register_as(&grace_email, "Grace Hopper").await;
    let linus = app.register_as(&linus_email, "Linus").await;
    // Once contacts has heard of both registrations...
    let probe = create(&ada, json!({ "name": "probe", "email": linus_email })).await;
    wait_for_link(&ada, &probe["id"], json!(linus)).await;
    let probe = create(&ada, json!({ "name": "probe", "email": grace_email })).await;
    wait_for_link(&ada, &probe["id"], json!(grace)).await;

    // ...a new contact with a known e-mail is linked in the mutation's answer.
    let contact = create(&ada, json!({ "name": "Grace", "email": grace_email })).await;
    assert_eq!(contact["user"], json!({ "id": grace }));
    let id = contact["id"].clone();

    // The contact's e-mail changes: the link moves, then clears.
    let update = async |email: Value| {
        let response = ada
            .run(
                "mutation($id: ID!, $i: ContactInput!) { updateContact(id: $id, input: $i) { user { id } } }",
                json!({ "id": id, "i": { "name": "Someone", "email": email } }),
            )
            .await;
        response.data()["updateContact"]["user"].clone()
    };
    assert_eq!(update(json!(linus_email)).await, json!({ "id": linus }));
    assert_eq!(update(json!("nobody@example.com")).await, json!(null));
    assert_eq!(update(json!(null)).await, json!(null));
    assert_eq!(update(json!(grace_email)).await, json!({ "id": grace }));
    // The list shows the same links.
    let list = ada.run("{ contacts { edges { node { email user { id } } } } }", json!({})).await;
    let edges = list.data()["contacts"]["edges"].as_array().unwrap().clone();
    assert!(edges.iter().all(|e| e["node"]["user"]["id"].is_string()), "{edges:?}");
}

#[tokio::test]
async fn a_users_email_change_moves_the_link_and_a_stale_event_changes_nothing() {
    let app = TestContacts::spawn().await;
    let (_, ada) = app.user("Ada").await;
    let (old_email, new_email) = (unique("grace"), unique("grace.new"));
    let grace = app.register_as(&old_email, "Grace Hopper").await;
    let by_old = create(&ada, json!({ "name": "Grace (old)", "email": old_email })).await["id"].clone();
    let by_new = create(&ada, json!({ "name": "Grace (new)", "email": new_email })).await["id"].clone();
    wait_for_link(&ada, &by_old, json!(grace)).await;

    // users publishes the profile with its new e-mail (version 3).
    app.publish([email_changed(&grace, &new_email, 3)]).await;
    wait_for_link(&ada, &by_new, json!(grace)).await;
    assert_eq!(linked_user(&ada, &by_old).await, json!(null));

    // An older version (2) arriving late, twice (one delivery, one
    // redelivery of the same event), then version 4 with a third e-mail:
    // one queue, consumed in order, so once version 4 shows, the stale ones
    // were consumed before it and changed nothing.
    let newest_email = unique("grace.newest");
    let by_newest = create(&ada, json!({ "name": "Grace (newest)", "email": newest_email })).await["id"].clone();
    let stale = email_changed(&grace, &old_email, 2);
    app.publish([stale.clone(), stale, email_changed(&grace, &newest_email.to_uppercase(), 4)]).await;
    wait_for_link(&ada, &by_newest, json!(grace)).await;
    assert_eq!(linked_user(&ada, &by_old).await, json!(null));
    assert_eq!(linked_user(&ada, &by_new).await, json!(null));
}
