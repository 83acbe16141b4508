use jobtracker_applications::store::Store;
use jobtracker_kit::events::Outbox;
use jobtracker_testkit::services::Running;
use jobtracker_testkit::{Account, Gql, TestEnv, spawn};
use serde_json::{Value, json};

pub struct TestApps {
    pub env: TestEnv,
    pub auth: Running,
    /// Kept alive for the test's duration.
    _service: Running,
    pub anonymous: Gql,
}

pub const FIELDS: &str = "id company position location salary { min max currency period } jobDescription jobUrl status \
    statusHistory { from to at note } appliedAt createdAt updatedAt";

impl TestApps {
    pub async fn spawn() -> Self {
        let env = TestEnv::new();
        let auth = spawn(&jobtracker_auth::SPEC, env.service_env(&jobtracker_auth::SPEC)).await;
        let service_env = env.service_env(&jobtracker_applications::SPEC).with_url("auth", &auth.url());
        let service = spawn(&jobtracker_applications::SPEC, service_env).await;
        let anonymous = Gql::new(service.graphql_url());
        Self { env, auth, _service: service, anonymous }
    }

    /// A new user and a client acting as them.
    pub async fn user(&self, name: &str) -> (Account, Gql) {
        let account = Account::register(&Gql::new(self.auth.graphql_url()), name).await;
        let client = self.anonymous.with_token(&account.access_token);
        (account, client)
    }

    /// A store on the service's database, for arranging data the API cannot
    /// (identical timestamps, large volumes).
    pub async fn store(&self) -> Store {
        let config = self.env.service_config(jobtracker_applications::SERVICE);
        jobtracker_applications::store(&config, Outbox::default()).await.unwrap().0
    }
}

pub async fn create(client: &Gql, input: Value) -> Value {
    let response = client
        .run(
            &format!("mutation($i: CreateApplicationInput!) {{ createApplication(input: $i) {{ {FIELDS} }} }}"),
            json!({ "i": input }),
        )
        .await;
    response.data()["createApplication"].clone()
}
