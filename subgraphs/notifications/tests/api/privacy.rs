//! Every notification is its owner's: lists and counts are the viewer's
//! alone, another user's is NOT_FOUND, signed out is UNAUTHENTICATED.

use chrono::{Duration, Utc};
use jobtracker_kit::events::contracts::INTERVIEW_SCHEDULED;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test]
async fn another_users_notification_is_not_found_and_reading_is_the_owners() {
    let app = TestNotifications::spawn().await;
    let (ada, client) = app.user("Ada").await;
    let (_, mallory) = app.user("Mallory").await;
    let at = Utc::now() + Duration::minutes(61);
    app.publish([interview_event(INTERVIEW_SCHEDULED, &ada.user_id, Uuid::now_v7(), 1, at, false)]).await;
    let listed = wait_for(&client, |l| total(l) == 1).await;
    let id = listed["notifications"]["edges"][0]["node"]["id"].clone();

    let read = "mutation($id: ID!) { markNotificationRead(id: $id) { id readAt } }";
    assert_eq!(mallory.run(read, json!({ "id": id })).await.error_code(), "NOT_FOUND");
    let theirs = mallory.run(LIST, json!({})).await;
    assert_eq!((total(theirs.data()), &theirs.data()["unreadNotificationCount"]), (0, &json!(0)));
    assert_eq!(
        mallory.run("mutation { markAllNotificationsRead }", json!({})).await.data()["markAllNotificationsRead"],
        0
    );
    assert_eq!(client.run(LIST, json!({})).await.data()["unreadNotificationCount"], 1);

    let marked = client.run(read, json!({ "id": id })).await;
    let read_at = marked.data()["markNotificationRead"]["readAt"].clone();
    assert!(read_at.is_string());
    // Marking again keeps the first time.
    assert_eq!(client.run(read, json!({ "id": id })).await.data()["markNotificationRead"]["readAt"], read_at);
    let unread =
        client.run("{ notifications(unreadOnly: true) { totalCount } unreadNotificationCount }", json!({})).await;
    assert_eq!(unread.data(), &json!({ "notifications": { "totalCount": 0 }, "unreadNotificationCount": 0 }));

    assert_eq!(client.run(read, json!({ "id": "nope" })).await.error_field(), Some("id"));
    for query in [LIST, "{ notificationPreferences { channels } }", "mutation { markAllNotificationsRead }"] {
        assert_eq!(app.anonymous.run(query, json!({})).await.error_code(), "UNAUTHENTICATED", "{query}");
    }
}

#[tokio::test]
async fn delivered_notifications_are_pushed_to_their_owner_only() {
    use jobtracker_testkit::WsClient;
    let app = TestNotifications::spawn().await;
    let (ada, _) = app.user("Ada").await;
    let (mallory, _) = app.user("Mallory").await;
    let url = format!("ws://{}/ws", app.stack["notifications"].addr);
    let subscription = "subscription { notificationReceived { kind title } }";
    let mut ada_ws =
        WsClient::connect(&url, json!({ "Authorization": format!("Bearer {}", ada.access_token) })).await.unwrap();
    ada_ws.subscribe("n", subscription).await;
    let mut mallory_ws =
        WsClient::connect(&url, json!({ "Authorization": format!("Bearer {}", mallory.access_token) })).await.unwrap();
    mallory_ws.subscribe("n", subscription).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let at = Utc::now() + Duration::minutes(61);
    app.publish([interview_event(INTERVIEW_SCHEDULED, &ada.user_id, Uuid::now_v7(), 1, at, false)]).await;
    let pushed = ada_ws.next_message(std::time::Duration::from_secs(10)).await.expect("a push");
    assert_eq!(pushed["payload"]["data"]["notificationReceived"]["title"], "Interview with Acme in 1 hour", "{pushed}");
    assert!(ada_ws.next_message(std::time::Duration::from_millis(500)).await.is_none());
    assert!(mallory_ws.next_message(std::time::Duration::from_millis(300)).await.is_none());
}
