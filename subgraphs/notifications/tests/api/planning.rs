//! Reminders planned from interview events and preferences: scheduled,
//! rescheduled, cancelled, deleted, stale, past due; and the notice of a
//! status change.

use chrono::{Duration, Utc};
use jobtracker_kit::events::Envelope;
use jobtracker_kit::events::contracts::{
    APPLICATION_STATUS_CHANGED, ApplicationSnapshot, ApplicationStatus, ApplicationStatusChanged, INTERVIEW_CANCELLED,
    INTERVIEW_DELETED, INTERVIEW_SCHEDULED, INTERVIEW_UPDATED,
};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test]
async fn an_interview_61_minutes_ahead_gets_its_hour_reminder_in_the_app_once() {
    let app = TestNotifications::spawn().await;
    let (ada, client) = app.user("Ada").await;
    let interview = Uuid::now_v7();
    let at = Utc::now() + Duration::minutes(61);
    let scheduled = interview_event(INTERVIEW_SCHEDULED, &ada.user_id, interview, 1, at, false);
    // Delivered twice by the broker: one reminder all the same.
    app.publish([scheduled.clone(), scheduled]).await;

    let listed = wait_for(&client, |l| total(l) == 1).await;
    let node = &listed["notifications"]["edges"][0]["node"];
    assert_eq!(node["kind"], "INTERVIEW_REMINDER");
    assert_eq!(node["title"], "Interview with Acme in 1 hour");
    assert!(node["body"].as_str().unwrap().starts_with("Acme — Backend Engineer, "), "{node}");
    assert!(node["body"].as_str().unwrap().ends_with("(Europe/Paris)"), "{node}");
    assert_eq!(node["interview"]["id"], interview.to_string());
    assert_eq!(listed["unreadNotificationCount"], 1);
    // The day-before reminder was already past when planned: never sent.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(total(&client.run(LIST, json!({})).await.data().clone()), 1);
    assert!(pending(&app, interview).await.is_empty());
}

#[tokio::test]
async fn cancelled_and_deleted_interviews_lose_their_pending_reminders() {
    let app = TestNotifications::spawn().await;
    let (ada, _) = app.user("Ada").await;
    let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
    let at = Utc::now() + Duration::days(3);
    app.publish([
        interview_event(INTERVIEW_SCHEDULED, &ada.user_id, first, 1, at, false),
        interview_event(INTERVIEW_SCHEDULED, &ada.user_id, second, 1, at, false),
    ])
    .await;
    let both = [(1440, "EMAIL"), (1440, "IN_APP"), (60, "EMAIL"), (60, "IN_APP")];
    wait_for_pending(&app, first, &both).await;
    wait_for_pending(&app, second, &both).await;
    app.publish([
        interview_event(INTERVIEW_CANCELLED, &ada.user_id, first, 2, at, true),
        interview_event(INTERVIEW_DELETED, &ada.user_id, second, 2, at, false),
    ])
    .await;
    wait_for_pending(&app, first, &[]).await;
    wait_for_pending(&app, second, &[]).await;
}

#[tokio::test]
async fn a_reschedule_moves_the_reminders_and_a_stale_event_changes_nothing() {
    let app = TestNotifications::spawn().await;
    let (ada, client) = app.user("Ada").await;
    let interview = Uuid::now_v7();
    let far = Utc::now() + Duration::days(3);
    let soon = Utc::now() + Duration::minutes(61);
    app.publish([interview_event(INTERVIEW_SCHEDULED, &ada.user_id, interview, 1, far, false)]).await;
    wait_for_pending(&app, interview, &[(1440, "EMAIL"), (1440, "IN_APP"), (60, "EMAIL"), (60, "IN_APP")]).await;

    // Moved to 61 minutes from now (version 3), then version 2 arrives late.
    app.publish([
        interview_event(INTERVIEW_UPDATED, &ada.user_id, interview, 3, soon, false),
        interview_event(INTERVIEW_UPDATED, &ada.user_id, interview, 2, far, false),
    ])
    .await;
    wait_for(&client, |l| total(l) == 1).await;
    wait_for_pending(&app, interview, &[]).await;
}

#[tokio::test]
async fn changed_preferences_replan_pending_reminders_and_are_bounded() {
    let app = TestNotifications::spawn().await;
    let (ada, client) = app.user("Ada").await;
    let defaults = client.run("{ notificationPreferences { channels reminderMinutesBefore } }", json!({})).await;
    assert_eq!(
        defaults.data()["notificationPreferences"],
        json!({ "channels": ["IN_APP", "EMAIL"], "reminderMinutesBefore": [1440, 60] })
    );
    let interview = Uuid::now_v7();
    app.publish([interview_event(
        INTERVIEW_SCHEDULED,
        &ada.user_id,
        interview,
        1,
        Utc::now() + Duration::days(2),
        false,
    )])
    .await;
    wait_for_pending(&app, interview, &[(1440, "EMAIL"), (1440, "IN_APP"), (60, "EMAIL"), (60, "IN_APP")]).await;

    let update = "mutation($i: NotificationPreferencesInput!) { updateNotificationPreferences(input: $i) { channels reminderMinutesBefore } }";
    let changed = client.run(update, json!({ "i": { "reminderMinutesBefore": [30, 120, 30] } })).await;
    assert_eq!(
        changed.data()["updateNotificationPreferences"],
        json!({ "channels": ["IN_APP", "EMAIL"], "reminderMinutesBefore": [120, 30] })
    );
    let expected: Vec<(i32, String)> =
        [(120, "EMAIL"), (120, "IN_APP"), (30, "EMAIL"), (30, "IN_APP")].map(|(m, c)| (m, c.to_string())).to_vec();
    assert_eq!(pending(&app, interview).await, expected);

    for (input, field) in [
        (json!({ "reminderMinutesBefore": [1, 2, 3, 4, 5, 6] }), "input.reminderMinutesBefore"),
        (json!({ "reminderMinutesBefore": [60, -5] }), "input.reminderMinutesBefore.1"),
        (json!({ "reminderMinutesBefore": [10081] }), "input.reminderMinutesBefore.0"),
    ] {
        let refused = client.run(update, json!({ "i": input })).await;
        assert_eq!((refused.error_code(), refused.error_field()), ("BAD_USER_INPUT", Some(field)));
    }
    let kept = client.run("{ notificationPreferences { reminderMinutesBefore } }", json!({})).await;
    assert_eq!(kept.data()["notificationPreferences"]["reminderMinutesBefore"], json!([120, 30]));
}

#[tokio::test]
async fn a_status_change_is_an_application_update_notice_sent_at_once() {
    // The sender polls every 10 minutes here: the notice comes within the
    // test's 10 s only because the consumer wakes it.
    let app = TestNotifications::spawn_with(&[("NOTIFICATIONS_POLL_MILLIS", "600000")]).await;
    let (ada, client) = app.user("Ada").await;
    let owner = Uuid::parse_str(&ada.user_id).unwrap();
    let application = Uuid::now_v7();
    let now = Utc::now();
    let snapshot = ApplicationSnapshot {
        application_id: application,
        owner_id: owner,
        company: "Acme".into(),
        position: "Backend Engineer".into(),
        location: None,
        salary: None,
        job_url: None,
        description_excerpt: None,
        status: ApplicationStatus::Interview,
        applied_at: Some(now),
        created_at: now,
        updated_at: now,
        status_history: Vec::new(),
        status_digest: None,
    };
    let changed = ApplicationStatusChanged {
        from: ApplicationStatus::Applied,
        to: ApplicationStatus::Interview,
        at: now,
        note: None,
        application: snapshot,
    };
    let event = Envelope::new(APPLICATION_STATUS_CHANGED, owner, application, 2, &changed);
    app.publish([event.clone(), event]).await;
    let listed = wait_for(&client, |l| total(l) == 1).await;
    let node = &listed["notifications"]["edges"][0]["node"];
    assert_eq!(node["kind"], "APPLICATION_UPDATE");
    assert_eq!(node["body"], "Acme — Backend Engineer: applied → interview");
    assert_eq!(node["application"]["id"], application.to_string());
}
