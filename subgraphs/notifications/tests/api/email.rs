//! E-mail reminders against a real SMTP server (MailDev): delivered once
//! with a text and an HTML part and the interview's own time; a sender that
//! dies between handing a message over and recording it never sends it
//! twice; a refusing server is retried, then the delivery FAILED.

use chrono::{Duration, Utc};
use jobtracker_kit::events::contracts::INTERVIEW_SCHEDULED;
use jobtracker_notifications::mail::{Outgoing, message_id};
use jobtracker_notifications::model::Channel;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test]
async fn an_email_reminder_reaches_the_smtp_server_once_with_text_and_html() {
    let app = TestNotifications::spawn().await;
    let (ada, client) = app.user("Ada Lovelace").await;
    let update = "mutation { updateNotificationPreferences(input: { channels: [EMAIL, IN_APP], reminderMinutesBefore: [60] }) { channels } }";
    assert_eq!(
        client.run(update, json!({})).await.data()["updateNotificationPreferences"]["channels"],
        json!(["IN_APP", "EMAIL"])
    );
    let interview = Uuid::now_v7();
    app.publish([interview_event(
        INTERVIEW_SCHEDULED,
        &ada.user_id,
        interview,
        1,
        Utc::now() + Duration::minutes(61),
        false,
    )])
    .await;

    let mails = wait_for_mails(&ada.email, 1).await;
    let mail = &mails[0];
    assert_eq!(mail["subject"], "Interview with Acme in 1 hour");
    assert!(mail["text"].as_str().unwrap().contains("(Europe/Paris)"), "{mail}");
    assert!(mail["html"].as_str().unwrap().contains("<h2>Interview with Acme in 1 hour</h2>"), "{mail}");
    assert_eq!(mail["to"][0]["name"], "Ada Lovelace");
    wait_for(&client, |l| total(l) == 1).await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(mails_to(&ada.email).await.len(), 1, "exactly one e-mail");
}

#[tokio::test]
async fn a_sender_that_dies_between_sending_and_recording_never_sends_twice() {
    let app = TestNotifications::spawn().await;
    let (ada, _) = app.user("Ada Lovelace").await;
    let crashed = due_email(&app, &ada.user_id, &format!("crash-after-send:{}", Uuid::now_v7())).await;
    let before_send = due_email(&app, &ada.user_id, &format!("crash-before-send:{}", Uuid::now_v7())).await;
    // A sender leases both for 1 s…
    let dying = sender(&app, "smtp://127.0.0.1:1025", 1, 5).await;
    let leased = dying.store.lease(Channel::Email, dying.clock.now(), chrono::Duration::seconds(1), 10).await.unwrap();
    assert_eq!(leased.len(), 2);
    let first = leased.iter().find(|j| j.id == crashed).unwrap();
    // …records the attempt of one, hands it to the server, and dies before marking it.
    assert!(dying.store.record_attempt(first.id).await.unwrap());
    let outgoing = Outgoing {
        to_email: &ada.email,
        to_name: "Ada",
        subject: &first.title,
        text: &first.body,
        idempotency_key: &first.idempotency_key,
    };
    dying.mail.mailer.send(&outgoing).await.unwrap();
    drop(dying);

    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let survivor = sender(&app, "smtp://127.0.0.1:1025", 60, 5).await;
    assert_eq!(survivor.hand_over_due().await.unwrap(), 1, "only the one never handed over is sent");
    wait_for_mails(&ada.email, 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let ids: Vec<String> = mails_to(&ada.email)
        .await
        .iter()
        .map(|m| m["headers"]["message-id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    let crashed_id = message_id(&first.idempotency_key);
    let bare = crashed_id.trim_matches(|c| c == '<' || c == '>');
    assert_eq!(
        ids.iter().filter(|id| id.trim_matches(|c| c == '<' || c == '>') == bare).count(),
        1,
        "{ids:?} vs {crashed_id}"
    );
    assert_eq!(delivery_state(&app, crashed).await.0, "UNCONFIRMED");
    assert_eq!(delivery_state(&app, before_send).await.0, "SENT");
}

#[tokio::test]
async fn a_refusing_smtp_server_is_retried_then_the_delivery_fails_visibly() {
    let app = TestNotifications::spawn().await;
    let (ada, _) = app.user("Ada Lovelace").await;
    let id = due_email(&app, &ada.user_id, &format!("refused:{}", Uuid::now_v7())).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let refused = sender(&app, &format!("smtp://127.0.0.1:{closed}"), 60, 2).await;

    assert_eq!(refused.hand_over_due().await.unwrap(), 0);
    let (state, attempts, error) = delivery_state(&app, id).await;
    assert_eq!((state.as_str(), attempts), ("PENDING", 1), "{error:?}");
    // Not again before its retry time (1 s)…
    assert_eq!(refused.hand_over_due().await.unwrap(), 0);
    assert_eq!(delivery_state(&app, id).await.1, 1);
    // …then the last attempt, and FAILED with the cause.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    refused.hand_over_due().await.unwrap();
    let (state, attempts, error) = delivery_state(&app, id).await;
    assert_eq!((state.as_str(), attempts), ("FAILED", 2));
    assert!(error.unwrap_or_default().contains("not accepted"));
}

#[tokio::test]
async fn two_senders_racing_over_1000_due_emails_send_each_exactly_once() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let app = TestNotifications::spawn().await;
    let (ada, _) = app.user("Ada Lovelace").await;
    let mut conn = AsyncPgConnection::establish(&app.database_url()).await.unwrap();
    let batch = Uuid::now_v7();
    // Due for the test's senders only (10 minutes ahead of the service's clock).
    diesel::sql_query(
        "INSERT INTO deliveries (id, owner_id, kind, channel, due_at, title, body, idempotency_key) \
         SELECT gen_random_uuid(), $1, 'INTERVIEW_REMINDER', 'EMAIL', now() + interval '10 minutes', 'Race ' || i, 'b', $2 || ':' || i \
         FROM generate_series(1, 1000) AS i",
    )
    .bind::<diesel::sql_types::Uuid, _>(Uuid::parse_str(&ada.user_id).unwrap())
    .bind::<diesel::sql_types::Text, _>(batch.to_string())
    .execute(&mut conn)
    .await
    .unwrap();
    let (first, second) =
        (sender(&app, "smtp://127.0.0.1:1025", 60, 5).await, sender(&app, "smtp://127.0.0.1:1025", 60, 5).await);
    let (a, b) = tokio::join!(first.hand_over_due(), second.hand_over_due());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a + b, 1000, "{a} + {b}");
    assert!(a > 0 && b > 0, "both took part: {a} and {b}");
    let mails = wait_for_mails(&ada.email, 1000).await;
    let mut ids: Vec<String> =
        mails.iter().map(|m| m["headers"]["message-id"].as_str().unwrap_or_default().to_string()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((mails.len(), ids.len()), (1000, 1000), "each once, under its own Message-ID");
}
