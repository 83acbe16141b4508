use std::time::Duration;

use jobtracker_kit::events::Envelope;
use jobtracker_testkit::gql::REGISTER;
use jobtracker_testkit::{Account, Gql, Stack};
use serde_json::{Value, json};

pub struct TestContacts {
    pub stack: Stack,
    /// auth's endpoint, to register accounts.
    pub auth: Gql,
    /// contacts' endpoint, anonymous.
    pub anonymous: Gql,
}

pub const FIELDS: &str = "id name position company email phone socialLinks { kind url } notes user { id } createdAt";

impl TestContacts {
    pub async fn spawn() -> Self {
        let stack = Stack::start(&[&jobtracker_auth::SPEC, &jobtracker_contacts::SPEC]).await;
        let auth = Gql::new(stack["auth"].graphql_url());
        let anonymous = Gql::new(stack["contacts"].graphql_url());
        Self { stack, auth, anonymous }
    }

    /// A new user and a contacts client acting as them.
    pub async fn user(&self, name: &str) -> (Account, Gql) {
        let account = Account::register(&self.auth, name).await;
        let client = self.anonymous.with_token(&account.access_token);
        (account, client)
    }

    /// Registers an account with this e-mail; returns its id.
    pub async fn register_as(&self, email: &str, name: &str) -> String {
        let input = json!({ "email": email, "password": "correct horse battery staple", "fullName": name });
        let response = self.auth.run(REGISTER, json!({ "input": input })).await;
        response.data()["register"]["user"]["id"].as_str().expect("user id").to_string()
    }

    /// Publishes events on the test's exchange, as another service would.
    pub async fn publish(&self, events: impl IntoIterator<Item = Envelope>) {
        jobtracker_testkit::events::republish(&self.stack.env.bus, events).await;
    }
}

/// Creates a contact and returns it (asserting no errors).
pub async fn create(client: &Gql, input: Value) -> Value {
    let mutation = format!("mutation($i: ContactInput!) {{ createContact(input: $i) {{ {FIELDS} }} }}");
    client.run(&mutation, json!({ "i": input })).await.data()["createContact"].clone()
}

/// The id of the user `contact` is linked to, as the owner sees it.
pub async fn linked_user(client: &Gql, contact: &Value) -> Value {
    let response = client.run("query($id: ID!) { contact(id: $id) { user { id } } }", json!({ "id": contact })).await;
    response.data()["contact"]["user"]["id"].clone()
}

/// Waits (10 s at most) until the contact is linked to `expected` (a user
/// id, or null): links made by events arrive within seconds.
pub async fn wait_for_link(client: &Gql, contact: &Value, expected: Value) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let actual = linked_user(client, contact).await;
        if actual == expected {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "contact {contact} is linked to {actual}, not {expected}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
