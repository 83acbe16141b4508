use std::time::Duration;

use jobtracker_testkit::{Account, Gql, Stack};
use serde_json::{Value, json};

pub struct TestAnalytics {
    pub stack: Stack,
}

/// A user with clients for the applications, interviews and analytics subgraphs.
pub struct User {
    pub applications: Gql,
    pub interviews: Gql,
    pub analytics: Gql,
}

pub const ANALYTICS: &str = "{ analytics { totalApplications statusBreakdown { status count } positionDistribution { label count } \
    locationDistribution { label count } funnel { applied interview offer appliedToInterviewRate interviewToOfferRate appliedToOfferRate } \
    responseRate medianDaysToFirstResponse medianDaysInStage { status medianDays samples } interviewCount \
    applicationsPerMonth { month count } } }";

impl TestAnalytics {
    pub async fn spawn() -> Self {
        let table = [
            &jobtracker_auth::SPEC,
            &jobtracker_applications::SPEC,
            &jobtracker_interviews::SPEC,
            &jobtracker_analytics::SPEC,
        ];
        Self { stack: Stack::start(&table).await }
    }

    pub async fn user(&self, name: &str) -> User {
        let account = Account::register(&Gql::new(self.stack["auth"].graphql_url()), name).await;
        let client = |url: String| Gql::new(url).with_token(&account.access_token);
        User {
            applications: client(self.stack["applications"].graphql_url()),
            interviews: client(self.stack["interviews"].graphql_url()),
            analytics: client(self.stack["analytics"].graphql_url()),
        }
    }
}

impl User {
    pub async fn create(&self, company: &str, position: &str, location: &str, status: &str) -> String {
        let response = self
            .applications
            .run(
                "mutation($i: CreateApplicationInput!) { createApplication(input: $i) { id } }",
                json!({ "i": { "company": company, "position": position, "location": location, "status": status } }),
            )
            .await;
        response.data()["createApplication"]["id"].as_str().unwrap().to_string()
    }

    pub async fn move_to(&self, id: &str, status: &str) {
        self.applications
            .run(
                "mutation($id: ID!, $s: ApplicationStatus!) { changeApplicationStatus(id: $id, status: $s) { id } }",
                json!({ "id": id, "s": status }),
            )
            .await
            .data();
    }

    pub async fn analytics(&self) -> Value {
        self.analytics.run(ANALYTICS, json!({})).await.data()["analytics"].clone()
    }

    /// Waits until the analytics satisfy `done` (events are asynchronous).
    pub async fn analytics_when(&self, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let analytics = self.analytics().await;
            if done(&analytics) {
                return analytics;
            }
            assert!(tokio::time::Instant::now() < deadline, "analytics did not settle: {analytics}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

pub fn count_of(list: &Value, key: &str, value: &str) -> i64 {
    list.as_array().unwrap().iter().find(|e| e[key] == value).map_or(0, |e| e["count"].as_i64().unwrap())
}

/// A standard scenario: create, change statuses, delete, schedule and reschedule.
pub async fn scenario(user: &User) {
    let react = user.create("Acme", "Senior React Developer", "Berlin", "APPLIED").await;
    user.create("Globex", "Backend Engineer (Rust)", "Remote (EU)", "SAVED").await;
    let data = user.create("Initech", "Data Analyst", " berlin ", "APPLIED").await;
    user.move_to(&data, "INTERVIEW").await;
    user.move_to(&data, "OFFER").await;
    let qa = user.create("Hooli", "QA Engineer", "Work from home", "APPLIED").await;
    user.move_to(&qa, "REJECTED").await;
    let gone = user.create("Vandelay", "Importer", "Paris", "APPLIED").await;
    user.applications.run("mutation($id: ID!) { deleteApplication(id: $id) }", json!({ "id": gone })).await.data();
    let schedule = "mutation($i: ScheduleInterviewInput!) { scheduleInterview(input: $i) { id } }";
    let interview = user
        .interviews
        .run(schedule, json!({ "i": { "applicationId": data, "scheduledAt": "2027-01-10T09:00:00Z", "timeZone": "Europe/Berlin", "type": "ONSITE" } }))
        .await
        .data()["scheduleInterview"]["id"]
        .clone();
    user.interviews
        .run(
            "mutation($id: ID!) { updateInterview(id: $id, input: { scheduledAt: \"2027-01-12T09:00:00Z\" }) { id } }",
            json!({ "id": interview }),
        )
        .await
        .data();
    let cancelled = user
        .interviews
        .run(schedule, json!({ "i": { "applicationId": react, "scheduledAt": "2027-01-11T09:00:00Z", "timeZone": "UTC", "type": "PHONE" } }))
        .await
        .data()["scheduleInterview"]["id"]
        .clone();
    user.interviews
        .run("mutation($id: ID!) { cancelInterview(id: $id) { id } }", json!({ "id": cancelled }))
        .await
        .data();
}

/// The scenario's numbers are all in.
pub fn scenario_settled(a: &Value) -> bool {
    a["totalApplications"] == 4
        && count_of(&a["statusBreakdown"], "status", "OFFER") == 1
        && a["interviewCount"] == 1
        && count_of(&a["statusBreakdown"], "status", "REJECTED") == 1
}
