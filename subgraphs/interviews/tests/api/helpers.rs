use jobtracker_testkit::{Account, Gql, Stack};
use serde_json::{Value, json};

pub struct TestInterviews {
    pub stack: Stack,
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
        let stack =
            Stack::start(&[&jobtracker_auth::SPEC, &jobtracker_applications::SPEC, &jobtracker_interviews::SPEC]).await;
        let anonymous = Gql::new(stack["interviews"].graphql_url());
        Self { stack, anonymous }
    }

    pub async fn user(&self, name: &str) -> User {
        let account = Account::register(&Gql::new(self.stack["auth"].graphql_url()), name).await;
        User {
            interviews: self.anonymous.with_token(&account.access_token),
            applications: Gql::new(self.stack["applications"].graphql_url()).with_token(&account.access_token),
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
