use jobtracker_testkit::{Account, Gql, Stack};

pub struct TestUsers {
    pub stack: Stack,
    /// auth's endpoint, to register accounts.
    pub auth: Gql,
    /// users' endpoint, anonymous.
    pub users: Gql,
}

impl TestUsers {
    pub async fn spawn() -> Self {
        let stack = Stack::start(&[&jobtracker_auth::SPEC, &jobtracker_users::SPEC]).await;
        let auth = Gql::new(stack["auth"].graphql_url());
        let users = Gql::new(stack["users"].graphql_url());
        Self { stack, auth, users }
    }

    /// Registers an account and returns it with a users client acting as
    /// it. Reading `me` makes sure the profile exists before the test goes
    /// on (searches only see profiles that exist).
    pub async fn sign_up(&self, name: &str) -> (Account, Gql) {
        let account = Account::register(&self.auth, name).await;
        let client = self.users.with_token(&account.access_token);
        client.run("{ me { id } }", serde_json::json!({})).await.data();
        (account, client)
    }
}

pub const PROFILE_FIELDS: &str = "id fullName email phone location headline skills socialLinks { kind url } createdAt";
