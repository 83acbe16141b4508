//! Notifications through the router: an interview scheduled 61 minutes
//! ahead gives its hour reminder in the app and exactly one e-mail in the
//! SMTP server (MailDev), a status change its notice, a
//! cancelled interview nothing; the router completes each notification's
//! interview and application from their subgraphs. The notifications
//! service's clock runs 90 s ahead, so the hour reminder is due at once.

use std::time::{Duration, Instant};

use chrono::Utc;
use jobtracker_testkit::{RouterOptions, WsClient};
use serde_json::{Value, json};

use crate::helpers::System;

const LIST: &str = "{ notifications { totalCount edges { node { kind title body interview { id company } application { id company status } } } } unreadNotificationCount }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_and_status_notices_reach_the_app_through_the_router() {
    let vars = [("NOTIFICATIONS_CLOCK_SKEW_SECS", "90"), ("NOTIFICATIONS_POLL_MILLIS", "100")]
        .map(|(k, v)| (k.to_string(), v.to_string()));
    let system = System::start_with_vars(RouterOptions::default(), &vars).await;
    let (ada_account, ada) = system.sign_up("Ada Lovelace").await;
    let (mallory_account, mallory) = system.sign_up("Mallory").await;
    let chosen = ada
        .run("mutation { updateNotificationPreferences(input: { channels: [IN_APP, EMAIL], reminderMinutesBefore: [60] }) { channels } }", json!({}))
        .await;
    assert_eq!(chosen.data()["updateNotificationPreferences"]["channels"], json!(["IN_APP", "EMAIL"]));

    // Both listen over the router's WebSocket before anything happens.
    let token =
        |account: &jobtracker_testkit::Account| json!({ "Authorization": format!("Bearer {}", account.access_token) });
    let subscription = "subscription { notificationReceived { kind title interview { company } } }";
    let mut ada_ws = WsClient::connect(&system.router.ws_url(), token(&ada_account)).await.expect("ada's socket");
    ada_ws.subscribe("n", subscription).await;
    let mut mallory_ws =
        WsClient::connect(&system.router.ws_url(), token(&mallory_account)).await.expect("mallory's socket");
    mallory_ws.subscribe("n", subscription).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let created = ada
        .run(
            "mutation { createApplication(input: { company: \"Acme\", position: \"Backend Engineer\", status: APPLIED }) { id } }",
            json!({}),
        )
        .await;
    let application = created.data()["createApplication"]["id"].clone();
    ada.run(
        "mutation($id: ID!) { changeApplicationStatus(id: $id, status: INTERVIEW) { id } }",
        json!({ "id": application }),
    )
    .await
    .data();
    let schedule = "mutation($i: ScheduleInterviewInput!) { scheduleInterview(input: $i) { id } }";
    let at = (Utc::now() + chrono::Duration::minutes(61)).to_rfc3339();
    let input =
        json!({ "applicationId": application, "scheduledAt": at, "timeZone": "Europe/Paris", "type": "ONLINE" });
    let interview = ada.run(schedule, json!({ "i": input })).await.data()["scheduleInterview"]["id"].clone();
    // Three hours ahead, so its reminder is not due yet when it is cancelled.
    let later = (Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
    let later_input = json!({ "company": "Initech", "position": "SRE", "scheduledAt": later, "timeZone": "Europe/Paris", "type": "PHONE" });
    let cancelled = ada.run(schedule, json!({ "i": later_input })).await.data()["scheduleInterview"]["id"].clone();
    ada.run("mutation($id: ID!) { cancelInterview(id: $id) { id } }", json!({ "id": cancelled })).await.data();

    let deadline = Instant::now() + Duration::from_secs(20);
    let listed: Value = loop {
        let listed = ada.run(LIST, json!({})).await.data().clone();
        if listed["notifications"]["totalCount"] == 2 {
            break listed;
        }
        assert!(Instant::now() < deadline, "{listed}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Pushed over the subscription too, each once (read now: a socket that is
    // not read does not answer the router's pings); Mallory hears nothing.
    let mut pushed = Vec::new();
    for _ in 0..2 {
        let message = ada_ws.next_message(Duration::from_secs(5)).await.expect("a push");
        pushed
            .push(message["payload"]["data"]["notificationReceived"]["kind"].as_str().unwrap_or_default().to_string());
    }
    pushed.sort();
    assert_eq!(pushed, ["APPLICATION_UPDATE", "INTERVIEW_REMINDER"]);
    assert!(ada_ws.next_message(Duration::from_millis(500)).await.is_none(), "no third push");
    assert!(mallory_ws.next_message(Duration::from_millis(300)).await.is_none(), "mallory hears nothing of ada's");

    // Wait for the e-mail, and a little longer: the cancelled interview's reminder never comes.
    let deadline = Instant::now() + Duration::from_secs(15);
    while mails_to(&ada_account.email).await.is_empty() {
        assert!(Instant::now() < deadline, "no e-mail arrived");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let listed_again = ada.run(LIST, json!({})).await.data().clone();
    assert_eq!(listed_again["notifications"]["totalCount"], 2, "{listed_again}");

    let nodes: Vec<&Value> = listed["notifications"]["edges"].as_array().unwrap().iter().map(|e| &e["node"]).collect();
    let reminder = nodes.iter().find(|n| n["kind"] == "INTERVIEW_REMINDER").expect("a reminder");
    assert_eq!(reminder["title"], "Interview with Acme in 1 hour");
    assert_eq!(reminder["interview"], json!({ "id": interview, "company": "Acme" }));
    let notice = nodes.iter().find(|n| n["kind"] == "APPLICATION_UPDATE").expect("a notice");
    assert_eq!(notice["body"], "Acme — Backend Engineer: applied → interview");
    assert_eq!(notice["application"], json!({ "id": application, "company": "Acme", "status": "INTERVIEW" }));
    assert_eq!(listed["unreadNotificationCount"], 2);

    // Exactly one e-mail, in MailDev (started by scripts/ensure-services.sh).
    let mails = mails_to(&ada_account.email).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["subject"], "Interview with Acme in 1 hour");

    let theirs = mallory.run(LIST, json!({})).await;
    assert_eq!(theirs.data()["notifications"]["totalCount"], 0);
    assert_eq!(system.gql.run(LIST, json!({})).await.error_code(), "UNAUTHENTICATED");
}

async fn mails_to(address: &str) -> Vec<Value> {
    let all: Vec<Value> = reqwest::get("http://127.0.0.1:1080/api/email").await.expect("MailDev").json().await.unwrap();
    all.into_iter().filter(|m| m["to"][0]["address"].as_str() == Some(address)).collect()
}

/// One `jobtracker run --target notifications` process on its own database
/// and event prefix (removed by the test), with `extra` variables.
fn notifications_process(database: &str, prefix: &str, port: u16, extra: &[(&str, &str)]) -> tokio::process::Child {
    tokio::process::Command::new(crate::helpers::binary())
        .args(["run", "--target", "notifications"])
        .env("NOTIFICATIONS_DATABASE", database)
        .env("NOTIFICATIONS_PORT", port.to_string())
        .env("EVENTS_PREFIX", prefix)
        .env("AUTH_URL", "http://127.0.0.1:9")
        .env("NOTIFICATIONS_POLL_MILLIS", "100")
        .env("NOTIFICATIONS_SEND_LEASE_SECS", "1")
        .envs(extra.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the notifications target starts")
}

async fn healthy(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("http://127.0.0.1:{port}/health")).await.map(|r| r.status().is_success()).ok()
        != Some(true)
    {
        assert!(Instant::now() < deadline, "notifications did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_killed_between_sending_and_recording_never_sends_twice() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let run = uuid::Uuid::new_v4().simple().to_string();
    let ms = chrono::Utc::now().timestamp_millis();
    let database = format!("jt_notifications_{ms}_{}", &run[..6]);
    let prefix = format!("jt-kill-{}", &run[..12]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let address = format!("killed-{}@example.com", &run[..12]);

    // The sender aborts right after handing the e-mail to the SMTP server.
    let mut doomed =
        notifications_process(&database, &prefix, port, &[("NOTIFICATIONS_FAULT_ABORT_AFTER_HANDOVER", "true")]);
    healthy(port).await;
    let base = jobtracker_kit::config::Infra::from_env().database_base_url;
    let mut conn = AsyncPgConnection::establish(&format!("{base}/{database}")).await.unwrap();
    let (owner, delivery) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    diesel::sql_query("INSERT INTO recipients (user_id, email, full_name, version) VALUES ($1, $2, 'Killed Test', 1)")
        .bind::<diesel::sql_types::Uuid, _>(owner)
        .bind::<diesel::sql_types::Text, _>(&address)
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query(
        "INSERT INTO deliveries (id, owner_id, kind, channel, minutes_before, due_at, title, body, idempotency_key) \
         VALUES ($1, $2, 'INTERVIEW_REMINDER', 'EMAIL', 60, now(), 'Interview with Acme in 1 hour', 'Acme', $3)",
    )
    .bind::<diesel::sql_types::Uuid, _>(delivery)
    .bind::<diesel::sql_types::Uuid, _>(owner)
    .bind::<diesel::sql_types::Text, _>(format!("kill:{run}"))
    .execute(&mut conn)
    .await
    .unwrap();
    let status =
        tokio::time::timeout(Duration::from_secs(20), doomed.wait()).await.expect("the sender aborts").unwrap();
    assert!(!status.success(), "it died: {status:?}");

    // Restarted without the fault: the lease runs out, the row settles, nothing is resent.
    let mut survivor = notifications_process(&database, &prefix, port, &[]);
    healthy(port).await;
    #[derive(diesel::QueryableByName)]
    struct State {
        #[diesel(sql_type = diesel::sql_types::Text)]
        state: String,
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let state = loop {
        let row: State = diesel::sql_query("SELECT state FROM deliveries WHERE id = $1")
            .bind::<diesel::sql_types::Uuid, _>(delivery)
            .get_result(&mut conn)
            .await
            .unwrap();
        if row.state != "PENDING" || Instant::now() > deadline {
            break row.state;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mails = mails_to(&address).await;
    survivor.kill().await.ok();
    drop(conn);
    // Clean up what a process outside the test kit leaves: its database and queues.
    let mut admin = AsyncPgConnection::establish(&format!("{base}/postgres")).await.unwrap();
    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)")).execute(&mut admin).await.ok();
    let _ = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "rabbitmqctl list_queues --silent name | grep '^{prefix}\\.' | xargs -r -n1 rabbitmqctl delete_queue"
        ))
        .output();

    assert_eq!(state, "UNCONFIRMED");
    assert_eq!(mails.len(), 1, "exactly one e-mail: {mails:?}");
}
