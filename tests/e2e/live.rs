//! Live updates at scale through the router: hundreds of tabs multiplexed
//! onto a few upstream sockets (decision 32), every push to its own user,
//! the sockets given back when the tabs leave; the subscription budgets; and
//! GraphQL over SSE as the second transport, gated the same way.

use std::time::{Duration, Instant};

use jobtracker_testkit::WsClient;
use serde_json::{Value, json};

use crate::helpers::{System, bearer, eventually, options};

const SUBSCRIPTIONS: [&str; 3] = [
    "subscription { dashboardUpdated { recentApplications(limit: 1) { company } } }",
    "subscription { profileUpdated { headline } }",
    "subscription { notificationReceived { kind body } }",
];

/// What tab `tab` of user `user` must see pushed after the user's changes.
fn expected(tab: usize, user: usize) -> impl Fn(&Value) -> bool {
    move |data: &Value| match tab % 3 {
        0 => data["dashboardUpdated"]["recentApplications"][0]["company"] == json!(format!("Company {user}")),
        1 => data["profileUpdated"]["headline"] == json!(format!("Headline {user}")),
        _ => data["notificationReceived"]["body"].as_str().is_some_and(|b| b.starts_with(&format!("Company {user} "))),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_tabs_share_a_few_upstream_sockets_each_get_their_own_push_and_leave_nothing_behind() {
    const USERS: usize = 30;
    const TABS: usize = 10;
    // Idle subgraph sockets are let go after 3 s (50 s by default), so the
    // count can be seen to return to its baseline.
    let system = System::start_with(options(&[("ROUTER_SUBGRAPH_IDLE_SECS", "3")])).await;
    let mut users = Vec::new();
    for index in 0..USERS {
        users.push(system.sign_up(&format!("Live User {index}")).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let baseline = system.router.open_sockets();

    let mut tabs = Vec::new();
    for (user, (account, _)) in users.iter().enumerate() {
        for tab in 0..TABS {
            let mut ws =
                WsClient::connect(&system.router.ws_url(), bearer(&account.access_token)).await.expect("acknowledged");
            ws.subscribe("live", SUBSCRIPTIONS[tab % 3]).await;
            tabs.push((user, tab, ws));
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held = system.router.open_sockets();
    // A client socket each; the gate's upstream sockets and Hive's subgraph
    // sockets (one per user and subgraph) on top: no relay per tab.
    let per_tab_relay = USERS * TABS;
    assert!(held >= baseline + USERS * TABS, "the tabs hold sockets: {baseline} → {held}");
    assert!(held < baseline + USERS * TABS + per_tab_relay / 2, "about one socket per tab: {baseline} → {held}");

    let started = Instant::now();
    for (user, (_, gql)) in users.iter().enumerate() {
        let headline = format!("Headline {user}");
        gql.run("mutation($h: String!) { updateProfile(input: { headline: $h }) { id } }", json!({ "h": headline }))
            .await
            .data();
        let created = gql
            .run(
                "mutation($c: String!) { createApplication(input: { company: $c, position: \"Engineer\", status: APPLIED }) { id } }",
                json!({ "c": format!("Company {user}") }),
            )
            .await;
        let id = created.data()["createApplication"]["id"].clone();
        gql.run(
            "mutation($id: ID!) { changeApplicationStatus(id: $id, status: INTERVIEW) { id } }",
            json!({ "id": id }),
        )
        .await
        .data();
    }
    // Every tab sees its own user's change, and nothing of anyone else's.
    let mut slowest = Duration::ZERO;
    for (user, tab, ws) in &mut tabs {
        let matches = expected(*tab, *user);
        loop {
            let message = ws
                .next_message(Duration::from_secs(15))
                .await
                .unwrap_or_else(|| panic!("user {user} tab {tab}: no push"));
            assert_eq!(message["type"], "next", "{message}");
            let data = &message["payload"]["data"];
            let text = data.to_string();
            for other in (0..USERS).filter(|other| other != user) {
                for marker in [format!("Company {other}\""), format!("Company {other} "), format!("Headline {other}\"")]
                {
                    assert!(!text.contains(&marker), "user {user} tab {tab} got user {other}'s push: {text}");
                }
            }
            if matches(data) {
                break;
            }
        }
        slowest = slowest.max(started.elapsed());
    }
    eprintln!(
        "{} tabs of {USERS} users: router sockets {baseline} → {held}; the last tab had its push {slowest:?} after the first of {} mutations (sent one after another)",
        USERS * TABS,
        USERS * 3
    );

    // What stays open is shared, not per tab: the gate's upstream socket of
    // each worker (two descriptors each, the router talking to itself).
    drop(tabs);
    let left = eventually(30, async || system.router.open_sockets() <= baseline + 8).await;
    let after = system.router.open_sockets();
    assert!(left, "sockets left behind: {baseline} before, {after} after");
    eprintln!("after the tabs left: {after} sockets");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tab_that_stops_reading_is_cut_off_and_the_users_other_tab_keeps_its_pushes() {
    let system = System::start().await;
    let (account, gql) = system.sign_up("Stalled Reader").await;
    // 50 applications with long names: each push of the query below is about 22 KB.
    let long = "x".repeat(190);
    let create = "mutation($c: String!) { createApplication(input: { company: $c, position: $c }) { id } }";
    let mut first = Value::Null;
    for index in 0..50 {
        let created = gql.run(create, json!({ "c": format!("{index:03} {long}") })).await;
        first = created.data()["createApplication"]["id"].clone();
    }
    let query = "subscription { dashboardUpdated { recentApplications(limit: 50) { company position } } }";
    let url = system.router.ws_url();
    let stalled = WsClient::connect_with_receive_buffer(&url, bearer(&account.access_token), Some(4096)).await;
    let mut stalled = stalled.expect("acknowledged");
    const STALLED_SUBSCRIPTIONS: usize = 10;
    for id in 0..STALLED_SUBSCRIPTIONS {
        stalled.subscribe(&format!("s{id}"), query).await;
    }
    let mut reader = WsClient::connect(&url, bearer(&account.access_token)).await.expect("acknowledged");
    reader.subscribe("r", query).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 20 changes: about 4.4 MB for the tab that reads nothing, more than
    // the kernel buffers on loopback and the gate's MAX_UNSENT_BYTES.
    const CHANGES: usize = 20;
    let update = "mutation($id: ID!, $n: String!) { updateApplication(id: $id, input: { location: $n }) { id } }";
    for change in 0..CHANGES {
        gql.run(update, json!({ "id": first, "n": format!("change {change}") })).await.data();
        let push = reader.next_message(Duration::from_secs(10)).await.expect("the reading tab gets every push");
        assert_eq!(push["type"], "next", "{push}");
    }
    let (received, ended) = stalled.drain(Duration::from_secs(5)).await;
    assert!(ended, "the tab that stopped reading is still connected ({received} pushes read afterwards)");
    assert!(received < CHANGES * STALLED_SUBSCRIPTIONS, "it was cut off, not served everything: {received}");
    eprintln!("the stalled tab was cut off; it had {received} of {} pushes", CHANGES * STALLED_SUBSCRIPTIONS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_over_the_users_or_the_routers_budget_are_refused_with_a_reason() {
    let limits = [("ROUTER_MAX_SUBSCRIPTIONS_PER_USER", "3"), ("ROUTER_MAX_SUBSCRIPTIONS", "5")];
    let system = System::start_with(options(&limits)).await;
    let (ada, _) = system.sign_up("Ada Lovelace").await;
    let (grace, _) = system.sign_up("Grace Hopper").await;
    let mut ws = WsClient::connect(&system.router.ws_url(), bearer(&ada.access_token)).await.expect("acknowledged");
    for id in ["1", "2", "3", "4"] {
        ws.subscribe(id, SUBSCRIPTIONS[1]).await;
    }
    let refused = ws.next_message(Duration::from_secs(5)).await.expect("the fourth is answered");
    assert_eq!((refused["type"].as_str(), refused["id"].as_str()), (Some("error"), Some("4")), "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "RATE_LIMITED");
    assert_eq!(
        refused["payload"][0]["message"],
        "at most 3 subscriptions per user are open at once; complete one first"
    );
    // Another tab of Ada's is over the same budget; completing one frees it.
    let mut other_tab =
        WsClient::connect(&system.router.ws_url(), bearer(&ada.access_token)).await.expect("acknowledged");
    other_tab.subscribe("a", SUBSCRIPTIONS[1]).await;
    let refused = other_tab.next_message(Duration::from_secs(5)).await.expect("answered");
    assert_eq!(refused["type"], "error", "{refused}");
    ws.send(json!({ "id": "1", "type": "complete" })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    other_tab.subscribe("b", SUBSCRIPTIONS[1]).await;
    assert!(
        other_tab.next_message(Duration::from_millis(700)).await.is_none(),
        "within the budget again: no answer until a push"
    );

    // Grace has her own three, but the router holds five in all.
    let mut graces =
        WsClient::connect(&system.router.ws_url(), bearer(&grace.access_token)).await.expect("acknowledged");
    for id in ["1", "2", "3"] {
        graces.subscribe(id, SUBSCRIPTIONS[1]).await;
    }
    let refused = graces.next_message(Duration::from_secs(5)).await.expect("the router's budget answers");
    assert_eq!(refused["id"], "3", "{refused}");
    assert_eq!(refused["payload"][0]["message"], "the router holds its maximum of 5 subscriptions; retry later");
}

/// Opens a GraphQL-over-SSE subscription; the response (status, stream).
async fn sse(system: &System, token: Option<&str>, query: &str) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(system.router.graphql_url())
        .header("accept", "text/event-stream")
        .json(&json!({ "query": query }));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.send().await.expect("the router answers")
}

/// The next `data:` of an SSE stream, as JSON.
async fn next_event(body: &mut reqwest::Response, buffer: &mut String) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if let Some(data) = event.lines().find_map(|line| line.strip_prefix("data:")) {
                return serde_json::from_str(data.trim()).ok();
            }
            continue;
        }
        let chunk = tokio::time::timeout_at(deadline, body.chunk()).await.ok()?.ok()??;
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_sent_events_carry_pushes_with_the_same_auth_and_budget() {
    let system = System::start_with(options(&[("ROUTER_MAX_SUBSCRIPTIONS_PER_USER", "2")])).await;
    let (ada, ada_gql) = system.sign_up("Ada Lovelace").await;
    let (grace, _) = system.sign_up("Grace Hopper").await;

    let opened = sse(&system, Some(&ada.access_token), SUBSCRIPTIONS[1]).await;
    assert_eq!(opened.status(), 200);
    assert!(opened.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut ada_stream = opened;
    let mut grace_stream = sse(&system, Some(&grace.access_token), SUBSCRIPTIONS[1]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    ada_gql.run("mutation { updateProfile(input: { headline: \"Over SSE\" }) { id } }", json!({})).await.data();
    let mut buffer = String::new();
    let pushed = next_event(&mut ada_stream, &mut buffer).await.expect("a push over SSE");
    assert_eq!(pushed["data"]["profileUpdated"]["headline"], "Over SSE", "{pushed}");
    let mut grace_buffer = String::new();
    let theirs =
        tokio::time::timeout(Duration::from_millis(700), next_event(&mut grace_stream, &mut grace_buffer)).await;
    assert!(!matches!(theirs, Ok(Some(_))), "grace hears nothing of ada's: {theirs:?}");

    // The gate's identity check: a forged token is refused before streaming.
    assert_eq!(sse(&system, Some("not-a-token"), SUBSCRIPTIONS[1]).await.status(), 401);
    // Anonymous: the subgraph refuses the operation.
    let mut anonymous = sse(&system, None, SUBSCRIPTIONS[1]).await;
    let refused = next_event(&mut anonymous, &mut String::new()).await.expect("an answer");
    assert_eq!(refused["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{refused}");

    // The budget: Ada's second stream fits, a third does not, and closing one frees a slot.
    let second = sse(&system, Some(&ada.access_token), SUBSCRIPTIONS[1]).await;
    assert_eq!(second.status(), 200);
    let third = sse(&system, Some(&ada.access_token), SUBSCRIPTIONS[1]).await;
    assert_eq!(third.status(), 429);
    let body: Value = third.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{body}");
    drop(second);
    let freed =
        eventually(15, async || sse(&system, Some(&ada.access_token), SUBSCRIPTIONS[1]).await.status() == 200).await;
    assert!(freed, "a closed stream gives its slot back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_a_client_writes_into_an_operation_never_replace_its_verified_token() {
    let system = System::start().await;
    let (ada, ada_gql) = system.sign_up("Ada Lovelace").await;
    let (grace, grace_gql) = system.sign_up("Grace Hopper").await;
    let mut ws = WsClient::connect(&system.router.ws_url(), bearer(&ada.access_token)).await.expect("acknowledged");
    let forged = json!({ "headers": { "Authorization": format!("Bearer {}", grace.access_token) } });
    ws.send(json!({ "id": "p", "type": "subscribe", "payload": { "query": SUBSCRIPTIONS[1], "extensions": forged } }))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    grace_gql.run("mutation { updateProfile(input: { headline: \"Grace's\" }) { id } }", json!({})).await.data();
    ada_gql.run("mutation { updateProfile(input: { headline: \"Ada's\" }) { id } }", json!({})).await.data();
    let pushed = ws.next_message(Duration::from_secs(5)).await.expect("a push");
    assert_eq!(pushed["payload"]["data"]["profileUpdated"]["headline"], "Ada's", "{pushed}");
    assert!(ws.next_message(Duration::from_millis(500)).await.is_none(), "nothing of grace's");
}
