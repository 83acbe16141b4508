use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jobtracker_kit::events::Envelope;
use jobtracker_kit::events::contracts::{InterviewChanged, InterviewSnapshot, InterviewType};
use jobtracker_testkit::{Account, Gql, Stack};
use serde_json::{Value, json};
use uuid::Uuid;

pub struct TestNotifications {
    pub stack: Stack,
    pub auth: Gql,
    pub anonymous: Gql,
}

pub const LIST: &str = "{ notifications { totalCount edges { node { id kind title body readAt interview { id } application { id } } } } unreadNotificationCount }";

impl TestNotifications {
    pub async fn spawn() -> Self {
        let vars = [("NOTIFICATIONS_CLOCK_SKEW_SECS", "90"), ("NOTIFICATIONS_POLL_MILLIS", "100")]
            .map(|(k, v)| (k.to_string(), v.to_string()));
        let stack = Stack::start_with(&[&jobtracker_auth::SPEC, &jobtracker_notifications::SPEC], &vars).await;
        let auth = Gql::new(stack["auth"].graphql_url());
        let anonymous = Gql::new(stack["notifications"].graphql_url());
        Self { stack, auth, anonymous }
    }

    pub async fn user(&self, name: &str) -> (Account, Gql) {
        let account = Account::register(&self.auth, name).await;
        let client = self.anonymous.with_token(&account.access_token);
        (account, client)
    }

    pub async fn publish(&self, events: impl IntoIterator<Item = Envelope>) {
        jobtracker_testkit::events::republish(&self.stack.env.bus, events).await;
    }

    pub fn database_url(&self) -> String {
        self.stack.env.database("notifications").url()
    }
}

/// An interview of `owner` as interviews publishes it.
pub fn interview_event(
    kind: &str,
    owner: &str,
    id: Uuid,
    version: i64,
    at: DateTime<Utc>,
    cancelled: bool,
) -> Envelope {
    let owner = Uuid::parse_str(owner).unwrap();
    let now = Utc::now();
    let interview = InterviewSnapshot {
        interview_id: id,
        owner_id: owner,
        application_id: None,
        company: "Acme".into(),
        position: "Backend Engineer".into(),
        scheduled_at: at,
        time_zone: "Europe/Paris".into(),
        duration_minutes: Some(60),
        interview_type: InterviewType::Online,
        details: None,
        cancelled,
        created_at: now,
        updated_at: now,
    };
    Envelope::new(kind, owner, id, version, &InterviewChanged { interview, previous_scheduled_at: None })
}

/// Waits (10 s at most) until the viewer's list satisfies `done`; returns it.
pub async fn wait_for(client: &Gql, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = client.run(LIST, json!({})).await.data().clone();
        if done(&listed) {
            return listed;
        }
        assert!(Instant::now() < deadline, "still {listed}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn total(listed: &Value) -> i64 {
    listed["notifications"]["totalCount"].as_i64().unwrap_or(-1)
}

/// Pending deliveries of the interview, straight from the database.
pub async fn pending(app: &TestNotifications, interview: Uuid) -> Vec<(i32, String)> {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        minutes_before: i32,
        #[diesel(sql_type = diesel::sql_types::Text)]
        channel: String,
    }
    let mut conn = AsyncPgConnection::establish(&app.database_url()).await.unwrap();
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT minutes_before, channel FROM deliveries WHERE interview_id = $1 AND state = 'PENDING' ORDER BY minutes_before DESC, channel",
    )
    .bind::<diesel::sql_types::Uuid, _>(interview)
    .load(&mut conn)
    .await
    .unwrap();
    rows.into_iter().map(|r| (r.minutes_before, r.channel)).collect()
}

/// Waits until the interview's pending deliveries are `expected`.
pub async fn wait_for_pending(app: &TestNotifications, interview: Uuid, expected: &[(i32, &str)]) {
    let expected: Vec<(i32, String)> = expected.iter().map(|(m, c)| (*m, c.to_string())).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let actual = pending(app, interview).await;
        if actual == expected {
            return;
        }
        assert!(Instant::now() < deadline, "pending {actual:?}, expected {expected:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
