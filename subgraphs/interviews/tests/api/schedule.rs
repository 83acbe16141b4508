use std::time::Duration;

use jobtracker_kit::events::contracts::InterviewChanged;
use serde_json::json;

use crate::helpers::{FIELDS, SCHEDULE, TestInterviews};

#[tokio::test]
async fn schedule_a_standalone_interview_with_its_time_zone() {
    let app = TestInterviews::spawn().await;
    let ada = app.user("Ada").await;

    let interview = ada
        .schedule(json!({
            "company": "Acme", "position": "SRE", "scheduledAt": "2027-03-01T10:00:00+01:00",
            "timeZone": "Europe/Paris", "durationMinutes": 45, "type": "ONLINE", "details": "Meet link in the invite",
        }))
        .await;
    assert_eq!(interview["scheduledAt"], "2027-03-01T09:00:00+00:00", "stored in UTC");
    assert_eq!(interview["timeZone"], "Europe/Paris");
    assert_eq!(interview["type"], "ONLINE");
    assert_eq!(interview["cancelled"], false);
    assert_eq!(interview["application"], json!(null));

    let read = ada
        .interviews
        .run(&format!("query($id: ID!) {{ interview(id: $id) {{ {FIELDS} }} }}"), json!({ "id": interview["id"] }))
        .await;
    assert_eq!(read.data()["interview"], interview);
}

#[tokio::test]
async fn a_linked_interview_takes_company_and_position_from_the_application() {
    let app = TestInterviews::spawn().await;
    let ada = app.user("Ada").await;
    let application = ada.application("Globex", "Data Engineer").await;

    let interview = ada.schedule(json!({ "applicationId": application, "scheduledAt": "2027-03-01T09:00:00Z", "timeZone": "UTC", "type": "PHONE" })).await;
    assert_eq!(
        (interview["company"].as_str(), interview["position"].as_str()),
        (Some("Globex"), Some("Data Engineer"))
    );
    assert_eq!(interview["application"]["id"], application.as_str());

    // Given values win over the application's.
    let overridden = ada
        .schedule(json!({ "applicationId": application, "company": "Globex Labs", "scheduledAt": "2027-03-02T09:00:00Z", "timeZone": "UTC", "type": "ONSITE" }))
        .await;
    assert_eq!(
        (overridden["company"].as_str(), overridden["position"].as_str()),
        (Some("Globex Labs"), Some("Data Engineer"))
    );
}

#[tokio::test]
async fn linking_another_users_or_a_missing_application_is_not_found() {
    let app = TestInterviews::spawn().await;
    let ada = app.user("Ada").await;
    let mallory = app.user("Mallory").await;
    let adas_application = ada.application("Acme", "SRE").await;

    for application in [adas_application, uuid::Uuid::now_v7().to_string()] {
        let response = mallory
            .interviews
            .run(SCHEDULE, json!({ "i": { "applicationId": application, "scheduledAt": "2027-03-01T09:00:00Z", "timeZone": "UTC", "type": "PHONE" } }))
            .await;
        assert_eq!(response.error_code(), "NOT_FOUND");
    }
}

#[tokio::test]
async fn bad_input_names_the_field() {
    let app = TestInterviews::spawn().await;
    let ada = app.user("Ada").await;
    let base = json!({ "company": "Acme", "position": "SRE", "scheduledAt": "2027-03-01T09:00:00Z", "timeZone": "UTC", "type": "PHONE" });
    let with = |key: &str, value: serde_json::Value| {
        let mut input = base.clone();
        input[key] = value;
        input
    };
    let cases = [
        (with("timeZone", json!("Mars/Olympus")), "input.timeZone"),
        (with("durationMinutes", json!(0)), "input.durationMinutes"),
        (with("company", json!(null)), "input.company"),
        (with("applicationId", json!("not-an-id")), "input.applicationId"),
        (with("details", json!("x".repeat(10_001))), "input.details"),
    ];
    for (input, field) in cases {
        let response = ada.interviews.run(SCHEDULE, json!({ "i": input })).await;
        assert_eq!(response.error_code(), "BAD_USER_INPUT", "{field}");
        assert_eq!(response.error_field(), Some(field));
    }
    let no_offset = ada.interviews.run(SCHEDULE, json!({ "i": with("scheduledAt", json!("2027-03-01 09:00")) })).await;
    assert!(!no_offset.errors().is_empty(), "a time without offset is refused");
}

#[tokio::test]
async fn reschedule_cancel_and_delete() {
    let app = TestInterviews::spawn().await;
    let ada = app.user("Ada").await;
    let id = ada.schedule(json!({ "company": "Acme", "position": "SRE", "scheduledAt": "2027-03-01T09:00:00Z", "timeZone": "UTC", "type": "PHONE", "details": "x" })).await["id"].clone();

    let update = "mutation($id: ID!, $i: UpdateInterviewInput!) { updateInterview(id: $id, input: $i) { scheduledAt timeZone type details durationMinutes } }";
    let moved = ada.interviews.run(update, json!({ "id": id, "i": { "scheduledAt": "2027-03-02T14:30:00-05:00", "timeZone": "America/New_York", "details": null } })).await;
    assert_eq!(
        moved.data()["updateInterview"],
        json!({ "scheduledAt": "2027-03-02T19:30:00+00:00", "timeZone": "America/New_York", "type": "PHONE", "details": null, "durationMinutes": null })
    );
    let cleared_time = ada.interviews.run(update, json!({ "id": id, "i": { "scheduledAt": null } })).await;
    assert_eq!(cleared_time.error_field(), Some("input.scheduledAt"));

    let cancel = "mutation($id: ID!) { cancelInterview(id: $id) { cancelled } }";
    assert_eq!(ada.interviews.run(cancel, json!({ "id": id })).await.data()["cancelInterview"]["cancelled"], true);
    assert_eq!(
        ada.interviews.run(cancel, json!({ "id": id })).await.data()["cancelInterview"]["cancelled"],
        true,
        "idempotent"
    );

    let deleted = ada.interviews.run("mutation($id: ID!) { deleteInterview(id: $id) }", json!({ "id": id })).await;
    assert_eq!(deleted.data()["deleteInterview"], id);
    let gone = ada.interviews.run("query($id: ID!) { interview(id: $id) { id } }", json!({ "id": id })).await;
    assert_eq!(gone.error_code(), "NOT_FOUND");
}

#[tokio::test]
async fn another_users_interview_is_not_found_and_signed_out_is_unauthenticated() {
    let app = TestInterviews::spawn().await;
    let ada = app.user("Ada").await;
    let mallory = app.user("Mallory").await;
    let id = ada.schedule(json!({ "company": "Acme", "position": "SRE", "scheduledAt": "2027-03-01T09:00:00Z", "timeZone": "UTC", "type": "PHONE" })).await["id"].clone();

    let operations = [
        "query($id: ID!) { interview(id: $id) { id } }",
        "mutation($id: ID!) { updateInterview(id: $id, input: { details: \"x\" }) { id } }",
        "mutation($id: ID!) { cancelInterview(id: $id) { id } }",
        "mutation($id: ID!) { deleteInterview(id: $id) }",
    ];
    for query in operations {
        assert_eq!(mallory.interviews.run(query, json!({ "id": id })).await.error_code(), "NOT_FOUND", "{query}");
        assert_eq!(app.anonymous.run(query, json!({ "id": id })).await.error_code(), "UNAUTHENTICATED", "{query}");
    }
    let list = mallory.interviews.run("{ interviews { totalCount } }", json!({})).await;
    assert_eq!(list.data()["interviews"]["totalCount"], 0);
    assert_eq!(app.anonymous.run("{ interviews { totalCount } }", json!({})).await.error_code(), "UNAUTHENTICATED");
    let entity = mallory
        .interviews
        .run(
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Interview { id } } }",
            json!({ "r": [{ "__typename": "Interview", "id": id }] }),
        )
        .await;
    assert_eq!(entity.data()["_entities"], json!([null]));
}

#[tokio::test]
async fn deleting_an_application_deletes_its_interviews() {
    let app = TestInterviews::spawn().await;
    let ada = app.user("Ada").await;
    let application = ada.application("Acme", "SRE").await;
    let linked = ada.schedule(json!({ "applicationId": application, "scheduledAt": "2027-03-01T09:00:00Z", "timeZone": "UTC", "type": "PHONE" })).await["id"].clone();
    let standalone = ada.schedule(json!({ "company": "Other", "position": "SRE", "scheduledAt": "2027-03-02T09:00:00Z", "timeZone": "UTC", "type": "PHONE" })).await["id"].clone();

    ada.applications
        .run("mutation($id: ID!) { deleteApplication(id: $id) }", json!({ "id": application }))
        .await
        .data();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let read = ada.interviews.run("query($id: ID!) { interview(id: $id) { id } }", json!({ "id": linked })).await;
        if read.errors().first().is_some_and(|e| e["extensions"]["code"] == "NOT_FOUND") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the linked interview was not deleted within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kept = ada.interviews.run("query($id: ID!) { interview(id: $id) { id } }", json!({ "id": standalone })).await;
    assert_eq!(kept.data()["interview"]["id"], standalone);
}

#[tokio::test]
async fn every_change_is_published_and_a_reschedule_carries_the_previous_time() {
    let app = TestInterviews::spawn().await;
    let mut tap = jobtracker_testkit::EventTap::start(&app.stack.env.bus, "interview.*").await;
    let ada = app.user("Ada").await;
    let id = ada.schedule(json!({ "company": "Acme", "position": "SRE", "scheduledAt": "2027-03-01T09:00:00Z", "timeZone": "UTC", "type": "PHONE" })).await["id"].clone();
    let update = "mutation($id: ID!, $i: UpdateInterviewInput!) { updateInterview(id: $id, input: $i) { id } }";
    ada.interviews.run(update, json!({ "id": id, "i": { "scheduledAt": "2027-03-05T09:00:00Z" } })).await.data();
    ada.interviews.run("mutation($id: ID!) { cancelInterview(id: $id) { id } }", json!({ "id": id })).await.data();
    ada.interviews.run("mutation($id: ID!) { deleteInterview(id: $id) }", json!({ "id": id })).await.data();

    let events = tap.take(4).await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["interview.scheduled", "interview.updated", "interview.cancelled", "interview.deleted"]);
    assert_eq!(events.iter().map(|e| e.aggregate_version).collect::<Vec<_>>(), [1, 2, 3, 4]);
    let rescheduled: InterviewChanged = events[1].payload().unwrap();
    assert_eq!(rescheduled.previous_scheduled_at.unwrap().to_rfc3339(), "2027-03-01T09:00:00+00:00");
    assert_eq!(rescheduled.interview.scheduled_at.to_rfc3339(), "2027-03-05T09:00:00+00:00");
    let cancelled: InterviewChanged = events[2].payload().unwrap();
    assert!(cancelled.interview.cancelled);
}
