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

/// An outsider: thirty aliased searches in one request, over HTTP and over
/// the WebSocket, find only the outsider's own and public documents; signed
/// out, the socket's search is UNAUTHENTICATED as over HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_aliased_searches_over_http_and_websocket_stay_private() {
    use jobtracker_testkit::WsClient;

    let system = System::start().await;
    let (_, ada) = system.sign_up("Ada Lovelace").await;
    let (mallory, mallory_client) = system.sign_up("Mallory").await;
    let created = ada
        .run("mutation { createApplication(input: { company: \"Secretco\", position: \"Spy\" }) { id } }", json!({}))
        .await;
    assert!(created.errors().is_empty(), "{}", created.body);
    let deadline = Instant::now() + Duration::from_secs(20);
    while ada.run(SEARCH, json!({ "q": "secretco" })).await.data()["search"].as_array().is_none_or(|r| r.is_empty()) {
        assert!(Instant::now() < deadline, "Ada's application was not indexed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let aliases: String = (0..30)
        .map(|i| format!("s{i}: search(query: \"secretco spy\", first: 100) {{ hit {{ __typename }} }} "))
        .collect();
    let query = format!("{{ {aliases} }}");
    let response = mallory_client.run(&query, json!({})).await;
    assert!(response.errors().is_empty(), "{}", response.body);
    for i in 0..30 {
        assert_eq!(response.data()[format!("s{i}")], json!([]), "{}", response.body);
    }

    let mut ws = WsClient::connect(
        &system.router.ws_url(),
        json!({ "Authorization": format!("Bearer {}", mallory.access_token) }),
    )
    .await
    .expect("a socket");
    ws.subscribe("1", &query).await;
    let answer = ws.next_message(Duration::from_secs(10)).await.expect("an answer over the socket");
    assert_eq!(answer["type"], "next", "{answer}");
    assert!(answer["payload"]["errors"].is_null(), "{answer}");
    assert_eq!(answer["payload"]["data"]["s0"], json!([]), "{answer}");

    let mut anonymous = WsClient::connect(&system.router.ws_url(), json!({})).await.expect("an anonymous socket");
    anonymous.subscribe("1", "{ search(query: \"secretco\") { score } }").await;
    let refused = anonymous.next_message(Duration::from_secs(10)).await.expect("an answer");
    assert!(refused.to_string().contains("UNAUTHENTICATED"), "{refused}");
}
