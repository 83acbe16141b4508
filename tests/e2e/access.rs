//! Access control swept, not sampled. The composed supergraph is read; every
//! root field (query, mutation, subscription) and every entity a subgraph
//! resolves must have a case below, and each case is tried by another user
//! with the owner's ids: through the router, and for entities through
//! `_entities` straight at the subgraph's port. Every one answers NOT_FOUND,
//! null, an empty list or the other user's own (empty) data; afterwards the
//! owner's records are intact. A field added to the schema without a case
//! here fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_graphql_parser::types::{TypeKind, TypeSystemDefinition};
use jobtracker_testkit::{Gql, WsClient};
use serde_json::{Value, json};

use crate::helpers::{System, eventually};

/// What another user must get back. Pointers are JSON pointers into `data`.
#[derive(Debug)]
enum Expect {
    /// The error code NOT_FOUND and no data at the field.
    NotFound,
    /// No error; the value at the pointer is null.
    Null(&'static str),
    /// No error; the list at the pointer is empty.
    Empty(&'static str),
    /// No error; the value at the pointer equals this (the caller's own, empty data).
    Equals(&'static str, Value),
    /// No error; the response never mentions the owner's records (searched by their markers).
    OwnOnly,
}

struct Case {
    document: String,
    variables: Value,
    expect: Expect,
}

fn case(document: &str, variables: Value, expect: Expect) -> Case {
    Case { document: document.to_string(), variables, expect }
}

/// The owner's records, made through the router as a frontend would.
struct Owner {
    user: String,
    application: String,
    interview: String,
    contact: String,
    notification: String,
    file: String,
}

/// Words that appear only in the owner's records.
const MARKERS: &[&str] = &["Sweepco", "Sweep Engineer", "Sweeper Contact", "sweep-resume"];

const PDF: &[u8] = include_bytes!("../../subgraphs/files/tests/fixtures/resume.pdf");

async fn make_owner(ada: &Gql, user: String) -> Owner {
    let data = |response: jobtracker_testkit::GqlResponse, field: &str| {
        assert!(response.errors().is_empty(), "{field}: {}", response.body);
        response.data()[field]["id"].as_str().unwrap().to_string()
    };
    let application = data(
        ada.run(
            "mutation($i: CreateApplicationInput!) { createApplication(input: $i) { id } }",
            json!({ "i": { "company": "Sweepco", "position": "Sweep Engineer", "status": "APPLIED" } }),
        )
        .await,
        "createApplication",
    );
    let interview = data(
        ada.run(
            "mutation($i: ScheduleInterviewInput!) { scheduleInterview(input: $i) { id } }",
            json!({ "i": { "applicationId": application, "scheduledAt": "2030-05-02T09:00:00Z", "timeZone": "Europe/Paris", "type": "PHONE" } }),
        )
        .await,
        "scheduleInterview",
    );
    let contact = data(
        ada.run(
            "mutation($i: ContactInput!) { createContact(input: $i) { id } }",
            json!({ "i": { "name": "Sweeper Contact", "company": "Sweepco" } }),
        )
        .await,
        "createContact",
    );
    data(
        ada.run(
            "mutation($id: ID!) { changeApplicationStatus(id: $id, status: INTERVIEW) { id } }",
            json!({ "id": application }),
        )
        .await,
        "changeApplicationStatus",
    );
    let upload = ada
        .run(
            "mutation($s: Int!) { createResumeUpload(fileName: \"sweep-resume.pdf\", contentType: \"application/pdf\", sizeBytes: $s) { uploadUrl file { id } } }",
            json!({ "s": PDF.len() }),
        )
        .await;
    let upload = upload.data()["createResumeUpload"].clone();
    let put = reqwest::Client::new()
        .put(upload["uploadUrl"].as_str().unwrap())
        .header("content-type", "application/pdf")
        .body(PDF.to_vec())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    let file = upload["file"]["id"].as_str().unwrap().to_string();
    let attached = ada.run("mutation($id: ID!) { attachResume(fileId: $id) { id } }", json!({ "id": file })).await;
    assert!(attached.errors().is_empty(), "{}", attached.body);
    // The status change's notice, once the notifications consumer delivered it.
    let mut notification = None;
    for _ in 0..100 {
        let listed = ada.run("{ notifications { edges { node { id } } } }", json!({})).await;
        if let Some(id) = listed.data()["notifications"]["edges"][0]["node"]["id"].as_str() {
            notification = Some(id.to_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Search has indexed the application and the contact by the time the sweep searches.
    let indexed = async || {
        let found = ada.run("{ search(query: \"Sweepco\") { score } }", json!({})).await;
        found.data()["search"].as_array().is_some_and(|hits| hits.len() >= 2)
    };
    assert!(eventually(10, indexed).await, "the owner's records were never indexed");
    Owner { user, application, interview, contact, notification: notification.expect("a notification"), file }
}

/// Every root field's case, keyed `Query.field`, `Mutation.field`.
fn root_cases(owner: &Owner) -> BTreeMap<&'static str, Case> {
    let a = json!({ "id": owner.application });
    let i = json!({ "id": owner.interview });
    let c = json!({ "id": owner.contact });
    let n = json!({ "id": owner.notification });
    let u = json!({ "id": owner.user });
    BTreeMap::from([
        ("Query.me", case("{ me { id savedProfiles { id } resume { id } } }", json!({}), Expect::OwnOnly)),
        // Profiles are public to signed-in users; what is the owner's own is not.
        (
            "Query.user",
            case(
                "query($id: ID!) { user(id: $id) { savedProfiles { id } } }",
                u.clone(),
                Expect::Null("/user/savedProfiles"),
            ),
        ),
        ("Query.users", case("{ users(search: \"Sweep\") { edges { node { id } } } }", json!({}), Expect::OwnOnly)),
        ("Query.accessTokenLifetime", case("{ accessTokenLifetime }", json!({}), Expect::OwnOnly)),
        (
            "Query.application",
            case("query($id: ID!) { application(id: $id) { id company } }", a.clone(), Expect::NotFound),
        ),
        (
            "Query.applications",
            case("{ applications { edges { node { id } } } }", json!({}), Expect::Empty("/applications/edges")),
        ),
        ("Query.interview", case("query($id: ID!) { interview(id: $id) { id company } }", i.clone(), Expect::NotFound)),
        (
            "Query.interviews",
            case("{ interviews { edges { node { id } } } }", json!({}), Expect::Empty("/interviews/edges")),
        ),
        ("Query.contact", case("query($id: ID!) { contact(id: $id) { id name } }", c.clone(), Expect::NotFound)),
        ("Query.contacts", case("{ contacts { edges { node { id } } } }", json!({}), Expect::Empty("/contacts/edges"))),
        (
            "Query.analytics",
            case(
                "{ analytics { totalApplications } }",
                json!({}),
                Expect::Equals("/analytics/totalApplications", json!(0)),
            ),
        ),
        (
            "Query.dashboard",
            case(
                "{ dashboard { recentApplications { id } } }",
                json!({}),
                Expect::Empty("/dashboard/recentApplications"),
            ),
        ),
        (
            "Query.notifications",
            case("{ notifications { edges { node { id } } } }", json!({}), Expect::Empty("/notifications/edges")),
        ),
        (
            "Query.unreadNotificationCount",
            case("{ unreadNotificationCount }", json!({}), Expect::Equals("/unreadNotificationCount", json!(0))),
        ),
        ("Query.notificationPreferences", case("{ notificationPreferences { channels } }", json!({}), Expect::OwnOnly)),
        (
            "Query.search",
            case(
                "{ search(query: \"Sweepco\", kinds: [APPLICATION, CONTACT]) { score } }",
                json!({}),
                Expect::Empty("/search"),
            ),
        ),
        (
            "Mutation.register",
            case(
                "mutation { register(input: { email: \"x\", password: \"y\", fullName: \"z\" }) { accessToken } }",
                json!({}),
                Expect::OwnOnly,
            ),
        ),
        (
            "Mutation.login",
            case(
                "mutation { login(email: \"nobody@example.com\", password: \"wrong\") { accessToken } }",
                json!({}),
                Expect::OwnOnly,
            ),
        ),
        (
            "Mutation.refreshToken",
            case(
                "mutation { refreshToken(refreshToken: \"not-a-token\") { accessToken } }",
                json!({}),
                Expect::OwnOnly,
            ),
        ),
        ("Mutation.logout", case("mutation { logout(refreshToken: \"not-a-token\") }", json!({}), Expect::OwnOnly)),
        (
            "Mutation.updateProfile",
            case("mutation { updateProfile(input: { headline: \"Bruno's own\" }) { id } }", json!({}), Expect::OwnOnly),
        ),
        (
            "Mutation.saveProfile",
            case("mutation($id: ID!) { saveProfile(userId: $id) { id } }", u.clone(), Expect::OwnOnly),
        ),
        (
            "Mutation.unsaveProfile",
            case("mutation($id: ID!) { unsaveProfile(userId: $id) { id } }", u.clone(), Expect::OwnOnly),
        ),
        (
            "Mutation.createResumeUpload",
            case(
                "mutation { createResumeUpload(fileName: \"b.pdf\", contentType: \"application/pdf\", sizeBytes: 8) { file { id } } }",
                json!({}),
                Expect::OwnOnly,
            ),
        ),
        (
            "Mutation.attachResume",
            case(
                "mutation($id: ID!) { attachResume(fileId: $id) { id } }",
                json!({ "id": owner.file }),
                Expect::NotFound,
            ),
        ),
        (
            "Mutation.removeResume",
            case("mutation { removeResume { resume { id } } }", json!({}), Expect::Null("/removeResume/resume")),
        ),
        (
            "Mutation.createApplication",
            case(
                "mutation { createApplication(input: { company: \"Bruno Co\", position: \"Own\" }) { id } }",
                json!({}),
                Expect::OwnOnly,
            ),
        ),
        (
            "Mutation.updateApplication",
            case(
                "mutation($id: ID!) { updateApplication(id: $id, input: { company: \"Stolen\" }) { id } }",
                a.clone(),
                Expect::NotFound,
            ),
        ),
        (
            "Mutation.changeApplicationStatus",
            case(
                "mutation($id: ID!) { changeApplicationStatus(id: $id, status: REJECTED) { id } }",
                a.clone(),
                Expect::NotFound,
            ),
        ),
        (
            "Mutation.deleteApplication",
            case("mutation($id: ID!) { deleteApplication(id: $id) }", a.clone(), Expect::NotFound),
        ),
        (
            "Mutation.scheduleInterview",
            case(
                "mutation($id: ID!) { scheduleInterview(input: { applicationId: $id, scheduledAt: \"2030-01-01T09:00:00Z\", timeZone: \"UTC\", type: PHONE }) { id } }",
                a.clone(),
                Expect::NotFound,
            ),
        ),
        (
            "Mutation.updateInterview",
            case(
                "mutation($id: ID!) { updateInterview(id: $id, input: { details: \"Stolen\" }) { id } }",
                i.clone(),
                Expect::NotFound,
            ),
        ),
        (
            "Mutation.cancelInterview",
            case("mutation($id: ID!) { cancelInterview(id: $id) { id } }", i.clone(), Expect::NotFound),
        ),
        (
            "Mutation.deleteInterview",
            case("mutation($id: ID!) { deleteInterview(id: $id) }", i.clone(), Expect::NotFound),
        ),
        (
            "Mutation.createContact",
            case("mutation { createContact(input: { name: \"Bruno's own\" }) { id } }", json!({}), Expect::OwnOnly),
        ),
        (
            "Mutation.updateContact",
            case(
                "mutation($id: ID!) { updateContact(id: $id, input: { name: \"Stolen\" }) { id } }",
                c.clone(),
                Expect::NotFound,
            ),
        ),
        ("Mutation.deleteContact", case("mutation($id: ID!) { deleteContact(id: $id) }", c.clone(), Expect::NotFound)),
        (
            "Mutation.markNotificationRead",
            case("mutation($id: ID!) { markNotificationRead(id: $id) { id } }", n.clone(), Expect::NotFound),
        ),
        (
            "Mutation.markAllNotificationsRead",
            case(
                "mutation { markAllNotificationsRead }",
                json!({}),
                Expect::Equals("/markAllNotificationsRead", json!(0)),
            ),
        ),
        (
            "Mutation.updateNotificationPreferences",
            case(
                "mutation { updateNotificationPreferences(input: { channels: [IN_APP] }) { channels } }",
                json!({}),
                Expect::OwnOnly,
            ),
        ),
        // Subscriptions: another user's socket receives none of the owner's pushes.
        (
            "Subscription.dashboardUpdated",
            case("subscription { dashboardUpdated { recentApplications { company } } }", json!({}), Expect::OwnOnly),
        ),
        (
            "Subscription.notificationReceived",
            case("subscription { notificationReceived { title body } }", json!({}), Expect::OwnOnly),
        ),
        (
            "Subscription.profileUpdated",
            case("subscription { profileUpdated { id headline } }", json!({}), Expect::OwnOnly),
        ),
    ])
}

/// Every resolvable entity, keyed `Type@subgraph`: the selection of every
/// field that subgraph contributes, and what another user gets.
fn entity_cases() -> BTreeMap<&'static str, (&'static str, Expect)> {
    BTreeMap::from([
        (
            "Application@applications",
            (
                "company position location salary { currency } jobDescription jobUrl status statusHistory { to } appliedAt createdAt updatedAt",
                Expect::Null("/_entities/0"),
            ),
        ),
        ("Application@interviews", ("interviews { id }", Expect::Empty("/_entities/0/interviews"))),
        (
            "Interview@interviews",
            (
                "company position scheduledAt timeZone durationMinutes type details cancelled application { id } createdAt",
                Expect::Null("/_entities/0"),
            ),
        ),
        (
            "Contact@contacts",
            (
                "name position company email phone socialLinks { url } notes user { id } createdAt",
                Expect::Null("/_entities/0"),
            ),
        ),
        // Profiles are public to signed-in users, except the owner's saved profiles.
        (
            "User@users",
            (
                "fullName email phone location headline skills socialLinks { url } createdAt savedProfiles { id }",
                Expect::Null("/_entities/0/savedProfiles"),
            ),
        ),
        // A résumé is part of the profile; signed out (this case's caller), none.
        ("User@files", ("resume { id }", Expect::Null("/_entities/0/resume"))),
    ])
}

/// The supergraph's root fields (`Query.me`) and resolvable entities with
/// the fields each subgraph contributes (`Application@applications`).
fn schema_surface() -> (BTreeSet<String>, BTreeMap<String, Vec<String>>) {
    let sdl = std::fs::read_to_string(jobtracker_testkit::router::workspace_supergraph()).unwrap();
    let document = async_graphql_parser::parse_schema(&sdl).expect("the supergraph parses");
    let mut roots = BTreeSet::new();
    let mut entities = BTreeMap::new();
    for definition in document.definitions {
        let TypeSystemDefinition::Type(definition) = definition else { continue };
        let definition = definition.node;
        let TypeKind::Object(object) = &definition.kind else { continue };
        let name = definition.name.node.as_str();
        if ["Query", "Mutation", "Subscription"].contains(&name) {
            for field in &object.fields {
                let field = field.node.name.node.as_str();
                if !field.starts_with('_') {
                    roots.insert(format!("{name}.{field}"));
                }
            }
            continue;
        }
        for directive in &definition.directives {
            let directive = &directive.node;
            if directive.name.node != "join__type" {
                continue;
            }
            let argument = |key: &str| directive.get_argument(key).map(|v| v.node.to_string());
            if argument("key").is_none() || argument("resolvable").as_deref() == Some("false") {
                continue;
            }
            let graph = argument("graph").unwrap().to_ascii_lowercase();
            let fields: Vec<String> = object
                .fields
                .iter()
                .filter(|field| {
                    field.node.directives.iter().any(|d| {
                        d.node.name.node == "join__field"
                            && d.node
                                .get_argument("graph")
                                .is_some_and(|g| g.node.to_string().to_ascii_lowercase() == graph)
                            && d.node.get_argument("external").is_none()
                    })
                })
                .map(|field| field.node.name.node.to_string())
                .collect();
            entities.insert(format!("{name}@{graph}"), fields);
        }
    }
    (roots, entities)
}

fn check(what: &str, response: &jobtracker_testkit::GqlResponse, expect: &Expect) {
    let body = &response.body;
    let text = body.to_string();
    let at = |pointer: &str| response.body["data"].pointer(pointer).cloned().unwrap_or(Value::Null);
    match expect {
        Expect::NotFound => {
            assert_eq!(response.error_code(), "NOT_FOUND", "{what}: {body}");
            assert!(
                body["data"].is_null() || body["data"].as_object().is_some_and(|d| d.values().all(Value::is_null)),
                "{what}: {body}"
            );
        }
        Expect::Null(pointer) => {
            assert!(response.errors().is_empty(), "{what}: {body}");
            assert!(at(pointer).is_null(), "{what}: {pointer} is not null: {body}");
        }
        Expect::Empty(pointer) => {
            assert!(response.errors().is_empty(), "{what}: {body}");
            assert_eq!(at(pointer), json!([]), "{what}: {body}");
        }
        Expect::Equals(pointer, value) => {
            assert!(response.errors().is_empty(), "{what}: {body}");
            assert_eq!(&at(pointer), value, "{what}: {body}");
        }
        Expect::OwnOnly => {}
    }
    for marker in MARKERS {
        assert!(!text.contains(marker), "{what} leaked the owner's {marker:?}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_private_field_refuses_another_user_through_the_router_and_the_subgraphs() {
    let system = System::start().await;
    let (ada_account, ada) = system.sign_up("Ada Sweep").await;
    let (bruno_account, bruno) = system.sign_up("Bruno Other").await;
    let bruno_token = bruno_account.access_token.as_str();
    let owner = make_owner(&ada, ada_account.user_id.clone()).await;

    // Every root field of the supergraph has a case, and no case is stale.
    let (roots, entities) = schema_surface();
    let mut cases = root_cases(&owner);
    let covered: BTreeSet<String> = cases.keys().map(|k| k.to_string()).collect();
    assert_eq!(roots, covered, "root fields without a case (left) or cases of no field (right)");

    // Subscriptions first, so the owner's changes below happen while they listen.
    let mut sockets = Vec::new();
    for (key, case) in cases.iter().filter(|(key, _)| key.starts_with("Subscription.")) {
        let token = format!("Bearer {bruno_token}");
        let mut socket = WsClient::connect(&system.router.ws_url(), json!({ "Authorization": token }))
            .await
            .unwrap_or_else(|_| panic!("{key}: ack"));
        socket.subscribe("s", &case.document).await;
        sockets.push((*key, socket));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Queries before mutations: the other user's own creations would show in their lists.
    for prefix in ["Query.", "Mutation."] {
        for (key, case) in cases.iter().filter(|(key, _)| key.starts_with(prefix)) {
            let response = bruno.run(&case.document, case.variables.clone()).await;
            check(key, &response, &case.expect);
        }
    }

    // The owner changes everything they have while the other user listens.
    ada.run("mutation { updateProfile(input: { headline: \"headline-of-ada\" }) { id } }", json!({})).await;
    ada.run(
        "mutation($id: ID!) { changeApplicationStatus(id: $id, status: OFFER) { id } }",
        json!({ "id": owner.application }),
    )
    .await;
    for (key, socket) in &mut sockets {
        while let Some(message) = socket.next_message(Duration::from_secs(3)).await {
            let text = message.to_string();
            assert!(MARKERS.iter().all(|m| !text.contains(m)), "{key} pushed the owner's data: {text}");
            assert!(!text.contains(&owner.application), "{key} pushed the owner's application: {text}");
            assert!(!text.contains("headline-of-ada"), "{key} pushed the owner's profile: {text}");
        }
    }
    cases.retain(|key, _| !key.starts_with("Subscription."));

    // Every resolvable entity has a case selecting every field its subgraph adds.
    let entity_cases = entity_cases();
    let known: BTreeSet<String> = entity_cases.keys().map(|k| k.to_string()).collect();
    assert_eq!(entities.keys().cloned().collect::<BTreeSet<_>>(), known, "entities without a case, or stale cases");
    for (key, (selection, expect)) in &entity_cases {
        let (type_name, graph) = key.split_once('@').unwrap();
        let selected: BTreeSet<&str> =
            selection.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
        for field in &entities[*key] {
            assert!(selected.contains(field.as_str()), "{key}: the case does not select {field}");
        }
        let id = match type_name {
            "Application" => &owner.application,
            "Interview" => &owner.interview,
            "Contact" => &owner.contact,
            "User" => &owner.user,
            other => panic!("no owner's id for {other}"),
        };
        let subgraph = Gql::new(system.stack[graph].graphql_url());
        // Signed out for the résumé (profiles are for signed-in viewers), as the other user otherwise.
        let caller = if *key == "User@files" { subgraph } else { subgraph.with_token(bruno_token) };
        let document = format!(
            "query($r: [_Any!]!) {{ _entities(representations: $r) {{ ... on {type_name} {{ __typename {selection} }} }} }}"
        );
        let response = caller.run(&document, json!({ "r": [{ "__typename": type_name, "id": id }] })).await;
        check(&format!("_entities {key}"), &response, expect);
    }

    // The owner's records are intact after all of it.
    let mine = ada
        .run(
            "query($a: ID!, $i: ID!, $c: ID!) { application(id: $a) { status } interview(id: $i) { cancelled details } contact(id: $c) { name } me { resume { id } } unreadNotificationCount }",
            json!({ "a": owner.application, "i": owner.interview, "c": owner.contact }),
        )
        .await;
    let data = mine.data();
    assert_eq!(data["application"]["status"], "OFFER", "{}", mine.body);
    assert_eq!(data["interview"]["cancelled"], false);
    assert!(data["interview"]["details"].is_null());
    assert_eq!(data["contact"]["name"], "Sweeper Contact");
    assert_eq!(data["me"]["resume"]["id"], owner.file.as_str());
    assert!(data["unreadNotificationCount"].as_i64().unwrap() >= 1);
}
