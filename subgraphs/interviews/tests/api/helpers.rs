use jobtracker_testkit::services::{Running, spawn_applications, spawn_auth, spawn_interviews};
use jobtracker_testkit::{Account, Gql, TestEnv};
use serde_json::{Value, json};

pub struct TestInterviews {
    pub env: TestEnv,
    pub auth: Running,
    pub applications: Running,
    /// Kept alive for the test's duration.
    _service: Running,
    pub anonymous: Gql,
}

/// A signed-in user with clients for both subgraphs.
pub struct User {
    pub interviews: Gql,
    pub applications: Gql,
}

pub const FIELDS: &str =
    "id company position scheduledAt timeZone durationMinutes type details cancelled application { id } createdAt";
pub const SCHEDULE: &str = "mutation($i: ScheduleInterviewInput!) { scheduleInterview(input: $i) { id company position scheduledAt timeZone durationMinutes type details cancelled application { id } createdAt } }";

impl TestInterviews {
    pub async fn spawn() -> Self {
        let env = TestEnv::new();
        let auth = spawn_auth(&env).await;
        let applications = spawn_applications(&env, &auth.url()).await;
        let service = spawn_interviews(&env, &auth.url(), &applications.url()).await;
        let anonymous = Gql::new(service.graphql_url());
        Self { env, auth, applications, _service: service, anonymous }
    }

    pub async fn user(&self, name: &str) -> User {
        let account = Account::register(&Gql::new(self.auth.graphql_url()), name).await;
        User {
            interviews: self.anonymous.with_token(&account.access_token),
            applications: Gql::new(self.applications.graphql_url()).with_token(&account.access_token),
        }
    }
}

impl User {
    pub async fn application(&self, company: &str, position: &str) -> String {
        let response = self
            .applications
            .run(
                "mutation($i: CreateApplicationInput!) { createApplication(input: $i) { id } }",
                json!({ "i": { "company": company, "position": position } }),
            )
            .await;
        response.data()["createApplication"]["id"].as_str().unwrap().to_string()
    }

    pub async fn schedule(&self, input: Value) -> Value {
        self.interviews.run(SCHEDULE, json!({ "i": input })).await.data()["scheduleInterview"].clone()
    }
}
