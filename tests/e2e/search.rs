//! Search through the router: one query whose union is completed for all
//! three kinds by their owners (applications, contacts, users), on the
//! PostgreSQL index and on the Elasticsearch one (osmem-server, an
//! OpenSearch-compatible emulator).

use std::time::{Duration, Instant};

use jobtracker_testkit::{OsmemServer, RouterOptions};
use serde_json::{Value, json};

use crate::helpers::System;

const SEARCH: &str = "query($q: String!) { search(query: $q) { score hit { __typename \
    ... on Application { id company position status } \
    ... on Contact { id name employer: company } \
    ... on User { id fullName headline } } } }";

async fn one_query_finds_and_completes_every_kind(system: System) {
    let (_, client) = system.sign_up("Ada Lovelace").await;
    let (grace, grace_client) = system.sign_up("Grace Hopper").await;
    let (_, mallory) = system.sign_up("Mallory").await;
    let profile = grace_client
        .run("mutation { updateProfile(input: { headline: \"Compiler pioneer at Zürich Labs\" }) { id } }", json!({}))
        .await;
    assert!(profile.errors().is_empty(), "{}", profile.body);
    let application = client
        .run(
            "mutation { createApplication(input: { company: \"Zürich Labs\", position: \"Compiler Engineer\" }) { id } }",
            json!({}),
        )
        .await;
    let application_id = application.data()["createApplication"]["id"].clone();
    let contact = client
        .run(
            "mutation { createContact(input: { name: \"Kurt Compiler\", company: \"Zurich Labs\" }) { id } }",
            json!({}),
        )
        .await;
    let contact_id = contact.data()["createContact"]["id"].clone();

    let deadline = Instant::now() + Duration::from_secs(20);
    let results = loop {
        let response = client.run(SEARCH, json!({ "q": "zurich compil" })).await;
        assert!(response.errors().is_empty(), "{}", response.body);
        let results = response.data()["search"].as_array().cloned().unwrap_or_default();
        if results.len() == 3 {
            break results;
        }
        assert!(Instant::now() < deadline, "search finds {results:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let hit = |typename: &str| -> Value {
        results.iter().find(|r| r["hit"]["__typename"] == typename).map(|r| r["hit"].clone()).unwrap_or(Value::Null)
    };
    assert_eq!(
        hit("Application"),
        json!({ "__typename": "Application", "id": application_id, "company": "Zürich Labs", "position": "Compiler Engineer", "status": "SAVED" })
    );
    assert_eq!(
        hit("Contact"),
        json!({ "__typename": "Contact", "id": contact_id, "name": "Kurt Compiler", "employer": "Zurich Labs" })
    );
    assert_eq!(
        hit("User"),
        json!({ "__typename": "User", "id": grace.user_id, "fullName": "Grace Hopper", "headline": "Compiler pioneer at Zürich Labs" })
    );
    assert!(results.iter().all(|r| r["score"].as_f64().unwrap() > 0.0));

    // Another user finds only the public profile; signed out, nothing.
    let theirs = mallory.run(SEARCH, json!({ "q": "zurich compil" })).await;
    let kinds: Vec<&Value> =
        theirs.data()["search"].as_array().unwrap().iter().map(|r| &r["hit"]["__typename"]).collect();
    assert_eq!(kinds, [&json!("User")], "{}", theirs.body);
    assert_eq!(system.gql.run(SEARCH, json!({ "q": "zurich" })).await.error_code(), "UNAUTHENTICATED");
    let blank = client.run(SEARCH, json!({ "q": " " })).await;
    assert_eq!((blank.error_code(), blank.error_field()), ("BAD_USER_INPUT", Some("query")));

    // Deleted: gone from the answer at once (before the index hears of it,
    // the owner no longer resolves it), never an error.
    client.run("mutation($id: ID!) { deleteApplication(id: $id) }", json!({ "id": application_id })).await;
    let after = client.run(SEARCH, json!({ "q": "zurich compil" })).await;
    assert!(after.errors().is_empty(), "{}", after.body);
    assert!(after.data()["search"].as_array().unwrap().iter().all(|r| r["hit"]["__typename"] != "Application"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_on_postgresql_through_the_router() {
    one_query_finds_and_completes_every_kind(System::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_on_elasticsearch_through_the_router() {
    let osmem = OsmemServer::start().await;
    one_query_finds_and_completes_every_kind(
        System::start_with_vars(RouterOptions::default(), &osmem.search_vars()).await,
    )
    .await;
}
