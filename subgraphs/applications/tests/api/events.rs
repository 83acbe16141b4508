use jobtracker_kit::events::contracts::{
    ApplicationDeleted, ApplicationSnapshot, ApplicationStatus, ApplicationStatusChanged,
};
use jobtracker_testkit::EventTap;
use serde_json::json;

use crate::helpers::{TestApps, create};

#[tokio::test]
async fn every_change_is_published_with_a_complete_payload() {
    let app = TestApps::spawn().await;
    let mut tap = EventTap::start(&app.env.bus, "application.*").await;

    let (account, me) = app.user("Ada").await;
    let id = create(
        &me,
        json!({ "company": "Acme", "position": "SRE", "salary": { "min": 1, "currency": "EUR", "period": "MONTH" } }),
    )
    .await["id"]
        .clone();
    me.run(
        "mutation($id: ID!) { updateApplication(id: $id, input: { location: \"Remote\" }) { id } }",
        json!({ "id": id }),
    )
    .await
    .data();
    me.run(
        "mutation($id: ID!) { changeApplicationStatus(id: $id, status: APPLIED, note: \"sent\") { id } }",
        json!({ "id": id }),
    )
    .await
    .data();
    me.run("mutation($id: ID!) { deleteApplication(id: $id) }", json!({ "id": id })).await.data();

    let events = tap.take(4).await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        ["application.created", "application.updated", "application.status_changed", "application.deleted"]
    );
    assert!(
        events
            .iter()
            .all(|e| e.user_id.to_string() == account.user_id && e.aggregate_id.to_string() == id.as_str().unwrap())
    );
    let versions: Vec<i64> = events.iter().map(|e| e.aggregate_version).collect();
    assert_eq!(versions, [1, 2, 3, 4]);

    let created: ApplicationSnapshot = events[0].payload().unwrap();
    assert_eq!((created.company.as_str(), created.status.as_str()), ("Acme", "SAVED"));
    assert_eq!(created.salary.unwrap().currency, "EUR");
    let changed: ApplicationStatusChanged = events[2].payload().unwrap();
    assert_eq!(
        (changed.from.as_str(), changed.to.as_str(), changed.note.as_deref()),
        ("SAVED", "APPLIED", Some("sent"))
    );
    assert_eq!(changed.application.location.as_deref(), Some("Remote"));
    assert_eq!(changed.application.applied_at, Some(changed.at));
    let digest = changed.application.status_digest.expect("version 2 events carry the status digest");
    assert_eq!(
        (digest.changes, digest.reached.as_slice()),
        (2, [ApplicationStatus::Saved, ApplicationStatus::Applied].as_slice())
    );
    assert!(changed.application.status_history.is_empty(), "the history itself is not published");
    assert!(events.iter().all(|e| e.version == 2));
    let deleted: ApplicationDeleted = events[3].payload().unwrap();
    assert_eq!(deleted.application.status, ApplicationStatus::Applied);
}
