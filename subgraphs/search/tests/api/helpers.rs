use std::sync::Arc;
use std::time::Duration;

use jobtracker_kit::db;
use jobtracker_kit::events::Envelope;
use jobtracker_search::Backend;
use jobtracker_search::index::SearchIndex;
use jobtracker_testkit::{Account, Gql, OsmemServer, Stack};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug)]
pub enum Engine {
    Postgres,
    Elastic,
}

pub struct TestSearch {
    pub stack: Stack,
    pub auth: Gql,
    pub osmem: Option<OsmemServer>,
}

/// One user's clients of each service.
pub struct User {
    pub account: Account,
    pub applications: Gql,
    pub contacts: Gql,
    pub users: Gql,
    pub search: Gql,
}

pub const SEARCH: &str = "query($q: String!, $kinds: [SearchKind!], $first: Int) { \
    search(query: $q, kinds: $kinds, first: $first) { score hit { __typename \
    ... on Application { id } ... on Contact { id } ... on User { id } } } }";

impl TestSearch {
    pub async fn spawn(engine: Engine) -> Self {
        let osmem = match engine {
            Engine::Postgres => None,
            Engine::Elastic => Some(OsmemServer::start().await),
        };
        let vars = osmem.as_ref().map(OsmemServer::search_vars).unwrap_or_default();
        let stack = Stack::start_with(
            &[
                &jobtracker_auth::SPEC,
                &jobtracker_users::SPEC,
                &jobtracker_applications::SPEC,
                &jobtracker_contacts::SPEC,
                &jobtracker_search::SPEC,
            ],
            &vars,
        )
        .await;
        let auth = Gql::new(stack["auth"].graphql_url());
        Self { stack, auth, osmem }
    }

    pub async fn user(&self, name: &str) -> User {
        let account = Account::register(&self.auth, name).await;
        let client = |service: &str| Gql::new(self.stack[service].graphql_url()).with_token(&account.access_token);
        User {
            applications: client("applications"),
            contacts: client("contacts"),
            users: client("users"),
            search: client("search"),
            account,
        }
    }

    pub fn anonymous_search(&self) -> Gql {
        Gql::new(self.stack["search"].graphql_url())
    }

    /// The service's backend, opened as `jobtracker search reindex` opens it.
    pub fn backend(&self) -> Backend {
        match &self.osmem {
            None => Backend::Postgres,
            Some(server) => Backend::Elastic(jobtracker_search::elastic::ElasticConfig {
                url: server.url.clone(),
                index: "jobtracker-search".into(),
                timeout: Duration::from_secs(10),
            }),
        }
    }

    pub async fn index(&self) -> (Arc<dyn SearchIndex>, db::Pool) {
        let pool = db::bootstrap(&self.stack.env.database("search"), jobtracker_search::MIGRATIONS).await.unwrap();
        (jobtracker_search::open_index(&self.backend(), pool.clone()).unwrap(), pool)
    }

    /// The publishers' databases, as the reindex command lists them.
    pub fn sources(&self) -> Vec<jobtracker_kit::db::DatabaseConfig> {
        ["users", "auth", "applications", "contacts"].iter().map(|s| self.stack.env.database(s)).collect()
    }

    pub async fn publish(&self, events: impl IntoIterator<Item = Envelope>) {
        jobtracker_testkit::events::republish(&self.stack.env.bus, events).await;
    }
}

/// `(typename, id)` of each hit, in order.
pub fn hits(response: &jobtracker_testkit::GqlResponse) -> Vec<(String, String)> {
    response.data()["search"]
        .as_array()
        .expect("a list of results")
        .iter()
        .map(|r| (r["hit"]["__typename"].as_str().unwrap().to_string(), r["hit"]["id"].as_str().unwrap().to_string()))
        .collect()
}

pub async fn search(client: &Gql, query: &str) -> Vec<(String, String)> {
    hits(&client.run(SEARCH, json!({ "q": query })).await)
}

/// Waits (15 s at most: events arrive within a second, osmem refreshes
/// every second) until `query` finds exactly `expected`, in that order.
pub async fn eventually(client: &Gql, query: &str, expected: &[(&str, &str)]) {
    settle(client, query, expected, false).await
}

/// The same, in any order (hits of equal rank from different documents).
pub async fn eventually_unordered(client: &Gql, query: &str, expected: &[(&str, &str)]) {
    settle(client, query, expected, true).await
}

async fn settle(client: &Gql, query: &str, expected: &[(&str, &str)], unordered: bool) {
    let mut expected: Vec<(String, String)> = expected.iter().map(|(t, id)| (t.to_string(), id.to_string())).collect();
    if unordered {
        expected.sort();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mut found = search(client, query).await;
        if unordered {
            found.sort();
        }
        if found == expected {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{query:?} finds {found:?}, not {expected:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn create_application(user: &User, input: Value) -> String {
    let response = user
        .applications
        .run("mutation($i: CreateApplicationInput!) { createApplication(input: $i) { id } }", json!({ "i": input }))
        .await;
    response.data()["createApplication"]["id"].as_str().expect("an application id").to_string()
}

pub async fn create_contact(user: &User, input: Value) -> String {
    let response = user
        .contacts
        .run("mutation($i: ContactInput!) { createContact(input: $i) { id } }", json!({ "i": input }))
        .await;
    response.data()["createContact"]["id"].as_str().expect("a contact id").to_string()
}

pub async fn update_profile(user: &User, input: Value) {
    let response = user
        .users
        .run("mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id } }", json!({ "i": input }))
        .await;
    assert!(response.errors().is_empty(), "{:?}", response.errors());
}
