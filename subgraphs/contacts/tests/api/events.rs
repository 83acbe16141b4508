use jobtracker_kit::events::contracts::{ContactDeleted, ContactSnapshot};
use jobtracker_testkit::EventTap;
use serde_json::json;

use crate::helpers::{TestContacts, create};

#[tokio::test]
async fn every_change_is_published_with_the_contact() {
    let app = TestContacts::spawn().await;
    let mut tap = EventTap::start(&app.stack.env.bus, "contact.*").await;
    let (account, me) = app.user("Ada").await;

    let id = create(&me, json!({ "name": "Grace Hopper", "email": "Grace@Navy.mil", "socialLinks": [{ "kind": "GITHUB", "url": "https://github.com/grace" }] }))
        .await["id"]
        .clone();
    me.run(
        "mutation($id: ID!) { updateContact(id: $id, input: { name: \"Grace Hopper\", company: \"US Navy\" }) { id } }",
        json!({ "id": id }),
    )
    .await
    .data();
    // Sent in another spelling, answered in the canonical one.
    let spelled = format!(" {} ", id.as_str().unwrap().to_uppercase());
    let deleted = me.run("mutation($id: ID!) { deleteContact(id: $id) }", json!({ "id": spelled })).await;
    assert_eq!(deleted.data()["deleteContact"], id);

    let events = tap.take(3).await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["contact.created", "contact.updated", "contact.deleted"]);
    assert!(
        events
            .iter()
            .all(|e| e.user_id.to_string() == account.user_id && e.aggregate_id.to_string() == id.as_str().unwrap())
    );
    let versions: Vec<i64> = events.iter().map(|e| e.aggregate_version).collect();
    assert_eq!(versions, [1, 2, 3]);

    let created: ContactSnapshot = events[0].payload().unwrap();
    assert_eq!((created.name.as_str(), created.email.as_deref()), ("Grace Hopper", Some("grace@navy.mil")));
    assert_eq!(created.social_links[0].url, "https://github.com/grace");
    let updated: ContactSnapshot = events[1].payload().unwrap();
    assert_eq!((updated.company.as_deref(), updated.email), (Some("US Navy"), None));
    let deleted: ContactDeleted = events[2].payload().unwrap();
    assert_eq!(deleted.contact.company.as_deref(), Some("US Navy"));
}
