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
        Self::spawn_with(&[]).await
    }

    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        let vars: Vec<(String, String)> =
            [("NOTIFICATIONS_CLOCK_SKEW_SECS", "90"), ("NOTIFICATIONS_POLL_MILLIS", "100")]
                .iter()
                .chain(extra)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
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

/// A sender of this test's own (beside the service's), on a pool of its own.
pub async fn sender(
    app: &TestNotifications,
    smtp_url: &str,
    lease_secs: i64,
    max_attempts: i32,
) -> jobtracker_notifications::worker::Sender {
    use jobtracker_notifications::worker::{MailSettings, Sender};
    let pool =
        jobtracker_kit::db::bootstrap(&app.stack.env.database("notifications"), jobtracker_notifications::MIGRATIONS)
            .await
            .unwrap();
    let mailer = jobtracker_notifications::mail::Mailer::new(
        smtp_url,
        "Jobtracker <reminders@jobtracker.local>",
        Duration::from_secs(5),
    )
    .unwrap();
    Sender {
        store: jobtracker_notifications::store::Store::new(pool, jobtracker_kit::events::Outbox::default()),
        // 20 minutes ahead: deliveries from `due_email` are due for it.
        clock: jobtracker_notifications::model::Clock { skew: chrono::Duration::minutes(20) },
        poll: Duration::from_millis(10),
        scheduled: Default::default(),
        retention: chrono::Duration::days(1),
        mail: MailSettings {
            mailer: std::sync::Arc::new(mailer),
            sms: std::sync::Arc::new(jobtracker_notifications::sms::LogSms),
            lease: chrono::Duration::seconds(lease_secs),
            max_attempts,
            first_retry: chrono::Duration::seconds(1),
        },
        abort_after_hand_over: false,
    }
}

/// The messages MailDev (started by scripts/ensure-services.sh) holds for `address`.
pub async fn mails_to(address: &str) -> Vec<Value> {
    let all: Vec<Value> = reqwest::get("http://127.0.0.1:1080/api/email")
        .await
        .expect("MailDev on :1080 (scripts/ensure-services.sh starts it)")
        .json()
        .await
        .unwrap();
    all.into_iter()
        .filter(|m| m["to"].as_array().is_some_and(|to| to.iter().any(|t| t["address"].as_str() == Some(address))))
        .collect()
}

/// Waits (15 s at most) for `count` messages to `address`.
pub async fn wait_for_mails(address: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mails = mails_to(address).await;
        if mails.len() >= count {
            return mails;
        }
        assert!(Instant::now() < deadline, "{} of {count} mails to {address}", mails.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An e-mail delivery for `owner` due in 10 minutes — after the service's
/// own clock (90 s ahead), so only a sender of the test's sees it due — as
/// planning would insert it; its id.
pub async fn due_email(app: &TestNotifications, owner: &str, key: &str) -> Uuid {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let id = Uuid::now_v7();
    let mut conn = AsyncPgConnection::establish(&app.database_url()).await.unwrap();
    diesel::sql_query(
        "INSERT INTO deliveries (id, owner_id, kind, channel, due_at, title, body, idempotency_key) \
         VALUES ($1, $2, 'INTERVIEW_REMINDER', 'EMAIL', now() + interval '10 minutes', 'Interview with Acme in 1 hour', 'Acme — Backend Engineer', $3)",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<diesel::sql_types::Uuid, _>(Uuid::parse_str(owner).unwrap())
    .bind::<diesel::sql_types::Text, _>(key)
    .execute(&mut conn)
    .await
    .unwrap();
    id
}

/// (state, attempts, last_error) of a delivery.
pub async fn delivery_state(app: &TestNotifications, id: Uuid) -> (String, i32, Option<String>) {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        state: String,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        attempts: i32,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        last_error: Option<String>,
    }
    let mut conn = AsyncPgConnection::establish(&app.database_url()).await.unwrap();
    let row: Row = diesel::sql_query("SELECT state, attempts, last_error FROM deliveries WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(id)
        .get_result(&mut conn)
        .await
        .unwrap();
    (row.state, row.attempts, row.last_error)
}
