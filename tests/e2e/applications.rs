//! Applications and interviews through the router: the federated links
//! both ways, privacy, filters, history and the cascade on delete.

use std::time::Duration;

use jobtracker_testkit::Gql;
use serde_json::{Value, json};

use crate::helpers::System;

const CREATE: &str = "mutation($i: CreateApplicationInput!) { createApplication(input: $i) { id } }";
const SCHEDULE: &str = "mutation($i: ScheduleInterviewInput!) { scheduleInterview(input: $i) { id } }";

async fn create(client: &Gql, input: Value) -> String {
    client.run(CREATE, json!({ "i": input })).await.data()["createApplication"]["id"].as_str().unwrap().to_string()
}

async fn schedule(client: &Gql, input: Value) -> String {
    client.run(SCHEDULE, json!({ "i": input })).await.data()["scheduleInterview"]["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_and_interviews_link_both_ways() {
    let system = System::start().await;
    let (_, ada) = system.sign_up("Ada Lovelace").await;
    let application =
        create(&ada, json!({ "company": "Acme", "position": "Backend Engineer", "status": "APPLIED" })).await;
    let first = schedule(&ada, json!({ "applicationId": application, "scheduledAt": "2027-05-02T09:00:00Z", "timeZone": "Europe/Paris", "type": "PHONE" })).await;
    let second = schedule(&ada, json!({ "applicationId": application, "scheduledAt": "2027-05-01T09:00:00Z", "timeZone": "Europe/Paris", "type": "ONSITE" })).await;
    ada.run("mutation($id: ID!) { changeApplicationStatus(id: $id, status: INTERVIEW, note: \"phone screen booked\") { id } }", json!({ "id": application }))
        .await
        .data();

    // Application → interviews (interviews subgraph), soonest first.
    let from_application = ada
        .run(
            "query($id: ID!) { application(id: $id) { company status interviews { id company type } } }",
            json!({ "id": application }),
        )
        .await;
    assert_eq!(
        from_application.data()["application"],
        json!({ "company": "Acme", "status": "INTERVIEW", "interviews": [
            { "id": second, "company": "Acme", "type": "ONSITE" },
            { "id": first, "company": "Acme", "type": "PHONE" },
        ] })
    );

    // Interview → application (applications subgraph), with its history.
    let from_interview = ada
        .run("query($id: ID!) { interview(id: $id) { position application { id status statusHistory { from to note } } } }", json!({ "id": first }))
        .await;
    assert_eq!(
        from_interview.data()["interview"],
        json!({ "position": "Backend Engineer", "application": { "id": application, "status": "INTERVIEW", "statusHistory": [
            { "from": null, "to": "APPLIED", "note": null },
            { "from": "APPLIED", "to": "INTERVIEW", "note": "phone screen booked" },
        ] } })
    );

    // And across lists, in one request.
    let lists = ada.run("{ applications { edges { node { interviews { id } } } } interviews { edges { node { application { company } } } } }", json!({})).await;
    assert_eq!(lists.data()["applications"]["edges"][0]["node"]["interviews"].as_array().unwrap().len(), 2);
    assert_eq!(lists.data()["interviews"]["edges"][0]["node"]["application"]["company"], "Acme");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_records_are_not_found_and_never_listed() {
    let system = System::start().await;
    let (_, ada) = system.sign_up("Ada Lovelace").await;
    let (_, mallory) = system.sign_up("Mallory").await;
    let application = create(&ada, json!({ "company": "Acme", "position": "SRE" })).await;
    let interview = schedule(&ada, json!({ "applicationId": application, "scheduledAt": "2027-05-01T09:00:00Z", "timeZone": "UTC", "type": "PHONE" })).await;

    for (query, id) in [
        ("query($id: ID!) { application(id: $id) { id } }", &application),
        ("mutation($id: ID!) { updateApplication(id: $id, input: { company: \"x\" }) { id } }", &application),
        ("mutation($id: ID!) { changeApplicationStatus(id: $id, status: OFFER) { id } }", &application),
        ("mutation($id: ID!) { deleteApplication(id: $id) }", &application),
        ("query($id: ID!) { interview(id: $id) { id } }", &interview),
        ("mutation($id: ID!) { updateInterview(id: $id, input: { details: \"x\" }) { id } }", &interview),
        ("mutation($id: ID!) { cancelInterview(id: $id) { id } }", &interview),
        ("mutation($id: ID!) { deleteInterview(id: $id) }", &interview),
    ] {
        let response = mallory.run(query, json!({ "id": id })).await;
        assert_eq!(response.error_code(), "NOT_FOUND", "{query}");
        let anonymous = system.gql.run(query, json!({ "id": id })).await;
        assert_eq!(anonymous.error_code(), "UNAUTHENTICATED", "{query}");
    }
    // As a link target.
    let linked = mallory.run(SCHEDULE, json!({ "i": { "applicationId": application, "scheduledAt": "2027-05-01T09:00:00Z", "timeZone": "UTC", "type": "PHONE" } })).await;
    assert_eq!(linked.error_code(), "NOT_FOUND");
    let lists = mallory
        .run("{ applications { totalCount } interviews(filter: { includeCancelled: true }) { totalCount } }", json!({}))
        .await;
    assert_eq!(lists.data()["applications"]["totalCount"], 0);
    assert_eq!(lists.data()["interviews"]["totalCount"], 0);
    // Ada's data is intact.
    let mine = ada
        .run("query($id: ID!) { application(id: $id) { company interviews { id } } }", json!({ "id": application }))
        .await;
    assert_eq!(mine.data()["application"], json!({ "company": "Acme", "interviews": [{ "id": interview }] }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_search_and_paginate_through_the_router() {
    let system = System::start().await;
    let (_, ada) = system.sign_up("Ada Lovelace").await;
    for (company, position, status) in [
        ("Acme", "Rust Engineer", "APPLIED"),
        ("Globex", "Designer", "SAVED"),
        ("Initech", "Platform engineer", "APPLIED"),
    ] {
        create(&ada, json!({ "company": company, "position": position, "status": status })).await;
    }
    let query = "query($f: ApplicationFilter, $after: String) { applications(filter: $f, first: 1, after: $after) { totalCount edges { node { company } } pageInfo { hasNextPage endCursor } } }";
    let page1 = ada.run(query, json!({ "f": { "search": "ENGINEER", "status": ["APPLIED"] } })).await;
    let list = &page1.data()["applications"];
    assert_eq!(list["totalCount"], 2);
    assert_eq!(list["edges"][0]["node"]["company"], "Initech");
    let page2 = ada
        .run(
            query,
            json!({ "f": { "search": "ENGINEER", "status": ["APPLIED"] }, "after": list["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(page2.data()["applications"]["edges"][0]["node"]["company"], "Acme");
    assert_eq!(page2.data()["applications"]["pageInfo"]["hasNextPage"], false);

    let bad = ada.run(CREATE, json!({ "i": { "company": "Acme", "position": "SRE", "salary": { "min": 9, "max": 1, "currency": "EUR", "period": "YEAR" } } })).await;
    assert_eq!((bad.error_code(), bad.error_field()), ("BAD_USER_INPUT", Some("input.salary.max")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_application_deletes_its_interviews() {
    let system = System::start().await;
    let (_, ada) = system.sign_up("Ada Lovelace").await;
    let application = create(&ada, json!({ "company": "Acme", "position": "SRE" })).await;
    schedule(&ada, json!({ "applicationId": application, "scheduledAt": "2027-05-01T09:00:00Z", "timeZone": "UTC", "type": "PHONE" })).await;
    let standalone = schedule(&ada, json!({ "company": "Other", "position": "SRE", "scheduledAt": "2027-05-02T09:00:00Z", "timeZone": "UTC", "type": "PHONE" })).await;

    let deleted = ada.run("mutation($id: ID!) { deleteApplication(id: $id) }", json!({ "id": application })).await;
    assert_eq!(deleted.data()["deleteApplication"], application.as_str());

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let list =
            ada.run("{ interviews(filter: { includeCancelled: true }) { edges { node { id } } } }", json!({})).await;
        let ids: Vec<String> = list.data()["interviews"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_string())
            .collect();
        if ids == [standalone.clone()] {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "cascade not done within 10 s: {ids:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
