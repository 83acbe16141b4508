//! SMS reminders through the Twilio-compatible provider, against a small
//! HTTP receiver of the test's: the Messages API path, basic auth, a form
//! body, one idempotency token per delivery, and exactly one request.

use std::sync::{Arc, Mutex};

use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use chrono::{Duration, Utc};
use jobtracker_kit::events::Envelope;
use jobtracker_kit::events::contracts::{INTERVIEW_SCHEDULED, USER_UPDATED, UserUpdated};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

#[derive(Clone, Debug)]
struct Received {
    account: String,
    authorization: String,
    token: String,
    form: std::collections::HashMap<String, String>,
}

type Log = Arc<Mutex<Vec<Received>>>;

async fn receive(
    State(log): State<Log>,
    Path(account): Path<String>,
    headers: HeaderMap,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> axum::Json<serde_json::Value> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    log.lock().unwrap().push(Received {
        account,
        authorization: header("authorization"),
        token: header("i-twilio-idempotency-token"),
        form,
    });
    axum::Json(json!({ "sid": "SM1", "status": "queued" }))
}

#[tokio::test]
async fn an_sms_reminder_goes_to_the_twilio_api_once() {
    let log: Log = Arc::default();
    let routes = axum::Router::new()
        .route("/2010-04-01/Accounts/{account}/Messages.json", axum::routing::post(receive))
        .with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, routes).await });

    let app = TestNotifications::spawn_with(&[
        ("SMS_PROVIDER", "twilio"),
        ("TWILIO_BASE_URL", &base),
        ("TWILIO_ACCOUNT_SID", "AC123"),
        ("TWILIO_AUTH_TOKEN", "secret"),
        ("TWILIO_FROM", "+15550001111"),
    ])
    .await;
    let (ada, client) = app.user("Ada Lovelace").await;
    let owner = Uuid::parse_str(&ada.user_id).unwrap();
    // users publishes the phone with the profile (version 2 after registration).
    let profile = UserUpdated {
        user_id: owner,
        email: ada.email.clone(),
        full_name: "Ada Lovelace".into(),
        phone: Some("+33 6 12 34 56 78".into()),
        location: None,
        headline: None,
        skills: Vec::new(),
        updated_at: Utc::now(),
    };
    app.publish([Envelope::new(USER_UPDATED, owner, owner, 2, &profile)]).await;
    let update = "mutation { updateNotificationPreferences(input: { channels: [SMS], reminderMinutesBefore: [60] }) { channels } }";
    assert!(client.run(update, json!({})).await.errors().is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    app.publish([interview_event(
        INTERVIEW_SCHEDULED,
        &ada.user_id,
        Uuid::now_v7(),
        1,
        Utc::now() + Duration::minutes(61),
        false,
    )])
    .await;

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while log.lock().unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no SMS arrived");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let received = log.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:?}");
    let sms = &received[0];
    assert_eq!(sms.account, "AC123");
    assert_eq!(sms.authorization, "Basic QUMxMjM6c2VjcmV0"); // AC123:secret
    assert_eq!(sms.form["To"], "+33 6 12 34 56 78");
    assert_eq!(sms.form["From"], "+15550001111");
    assert!(sms.form["Body"].starts_with("Interview with Acme in 1 hour: Acme — Backend Engineer"), "{sms:?}");
    assert_eq!(sms.token.len(), 32, "{sms:?}");
}
