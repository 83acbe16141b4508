//! The router's gate under attack: forged tokens, rate limits over every
//! transport, WebSocket clients that vanish, a connection cap, auth down at
//! start, and internal errors that must not leak.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jobtracker_testkit::{Gql, RouterProcess, WsClient, ws::Refused};
use serde_json::{Value, json};

use crate::helpers::{System, bearer, binary, options};

/// A well-formed token naming `sub`, signed by nobody.
fn forged_token(sub: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({ "alg": "EdDSA", "typ": "JWT", "kid": "forged" }).to_string());
    let exp = chrono::Utc::now().timestamp() + 600;
    let claims = json!({ "sub": sub, "iss": "jobtracker", "aud": "jobtracker", "iat": 0, "exp": exp, "jti": "x" });
    let signature = URL_SAFE_NO_PAD.encode([7u8; 64]);
    format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(claims.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_token_naming_someone_never_spends_their_bucket() {
    let system = System::start_with(options(&[("RATE_LIMIT_PER_SECOND", "0.5"), ("RATE_LIMIT_BURST", "20")])).await;
    let (ada, ada_gql) = system.sign_up("Ada Lovelace").await;
    let forged = forged_token(&ada.user_id);
    // A forged token gets no WebSocket.
    let refused = WsClient::connect(&system.router.ws_url(), bearer(&forged)).await;
    assert!(matches!(refused, Err(Refused::Closed(Some(4403)))), "{:?}", refused.err());

    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for _ in 0..160 {
        let response = system.gql.run_with_authorization(&format!("Bearer {forged}"), "{ me { id } }", json!({})).await;
        assert!(response.body["data"].is_null(), "nothing executes for a forged token");
        *statuses.entry(response.status).or_default() += 1;
    }
    // The forger's own address runs dry: refused as unauthenticated, then throttled.
    assert_eq!(
        statuses.get(&429).copied().unwrap_or(0) + statuses.get(&401).copied().unwrap_or(0),
        160,
        "{statuses:?}"
    );
    assert!(statuses.get(&429).copied().unwrap_or(0) >= 130, "{statuses:?}");
    eprintln!("160 forged requests answered: {statuses:?}");

    // Ada's own bucket is untouched: all of her next 15 requests are answered.
    for _ in 0..15 {
        let me = ada_gql.run("{ me { id } }", json!({})).await;
        assert_eq!(me.status, 200, "{}", me.body);
        assert_eq!(me.data()["me"]["id"], ada.user_id.as_str());
    }
}

/// Sends `count` operations over one connection; returns how many were
/// answered with data and how many were refused with RATE_LIMITED.
async fn run_over_websocket(ws: &mut WsClient, count: usize, query: &str) -> (usize, usize) {
    for i in 0..count {
        ws.subscribe(&format!("op{i}"), query).await;
    }
    let (mut answered, mut limited) = (0, 0);
    while answered + limited < count {
        let Some(message) = ws.next_message(Duration::from_secs(5)).await else { break };
        match message["type"].as_str() {
            Some("next") => answered += 1,
            Some("error") => {
                assert_eq!(message["payload"][0]["extensions"]["code"], "RATE_LIMITED", "{message}");
                limited += 1;
            }
            _ => {}
        }
    }
    (answered, limited)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_over_a_websocket_draw_from_the_same_bucket_as_http() {
    let system = System::start_with(options(&[("RATE_LIMIT_PER_SECOND", "0.5"), ("RATE_LIMIT_BURST", "20")])).await;
    let (ada, ada_gql) = system.sign_up("Ada Lovelace").await;

    // Signed in: connection_init takes one token, 30 queries find 19 left.
    let mut ws = WsClient::connect(&system.router.ws_url(), bearer(&ada.access_token)).await.expect("acknowledged");
    let (answered, limited) = run_over_websocket(&mut ws, 30, "{ me { id } }").await;
    assert_eq!(answered + limited, 30);
    assert!((19..=21).contains(&answered), "answered {answered}, limited {limited}");
    eprintln!("30 queries over one socket (burst 20): {answered} answered, {limited} RATE_LIMITED");
    // The same bucket refuses her over HTTP now.
    assert_eq!(ada_gql.run("{ me { id } }", json!({})).await.status, 429);

    // Anonymous: 40 logins over one socket are bounded by the address's bucket.
    let mut anonymous = WsClient::connect(&system.router.ws_url(), json!({})).await.expect("acknowledged");
    let login =
        format!(r#"mutation {{ login(email: "{}", password: "wrong password!") {{ accessToken }} }}"#, ada.email);
    let (answered, limited) = run_over_websocket(&mut anonymous, 40, &login).await;
    assert!(answered <= 20 && limited >= 20, "answered {answered}, limited {limited}");
    eprintln!("40 anonymous logins over one socket: {answered} answered, {limited} RATE_LIMITED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_vanish_release_their_relays_and_new_subscriptions_work() {
    // Exactly as many slots as clients: the subscription after them needs
    // every slot given back (the gate's and Hive's).
    let system = System::start_with(options(&[("ROUTER_MAX_LONG_LIVED_CLIENTS", "500")])).await;
    let (ada, ada_gql) = system.sign_up("Ada Lovelace").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let baseline = system.router.open_sockets();

    // 500 clients connect, subscribe, and drop their TCP connection without a close frame.
    let mut clients = Vec::new();
    for _ in 0..500 {
        let mut ws = WsClient::connect(&system.router.ws_url(), bearer(&ada.access_token)).await.expect("acknowledged");
        ws.subscribe("p", "subscription { profileUpdated { id } }").await;
        clients.push(ws);
    }
    let held = system.router.open_sockets();
    // (Clients that do not read their socket stop answering the router's
    // pings; on a loaded machine the first ones may be dropped already.)
    assert!(held > baseline + 100, "the clients hold sockets and relays: {baseline} → {held}");
    drop(clients);

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut now_open = system.router.open_sockets();
    while now_open > baseline + 10 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        now_open = system.router.open_sockets();
    }
    assert!(now_open <= baseline + 10, "stale relays left: {baseline} sockets before, {now_open} after");
    eprintln!("router sockets: {baseline} before, {held} with 500 clients, {now_open} after they vanished");

    let mut ws = WsClient::connect(&system.router.ws_url(), bearer(&ada.access_token)).await.expect("acknowledged");
    ws.subscribe("p", "subscription { profileUpdated { headline } }").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    ada_gql.run("mutation { updateProfile(input: { headline: \"Still here\" }) { id } }", json!({})).await.data();
    let pushed = ws.next_message(Duration::from_secs(5)).await.expect("the new subscription is served");
    assert_eq!(pushed["payload"]["data"]["profileUpdated"]["headline"], "Still here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_clients_over_the_limit_are_told_so_with_a_close_code() {
    let system = System::start_with(options(&[("ROUTER_MAX_LONG_LIVED_CLIENTS", "3")])).await;
    let (ada, _) = system.sign_up("Ada Lovelace").await;
    let url = system.router.ws_url();
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(WsClient::connect(&url, bearer(&ada.access_token)).await.expect("within the limit"));
    }
    let refused = WsClient::connect(&url, bearer(&ada.access_token)).await;
    assert!(matches!(refused, Err(Refused::Closed(Some(1013)))), "{:?}", refused.err());

    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match WsClient::connect(&url, bearer(&ada.access_token)).await {
            Ok(_) => break,
            Err(err) if Instant::now() > deadline => panic!("the freed slot is never reused: {err:?}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Forwards connections on a new port to `target` once started.
struct Forwarder {
    port: u16,
}

impl Forwarder {
    fn reserve() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap().port();
        Self { port }
    }

    async fn start(&self, target: std::net::SocketAddr) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_starts_while_auth_is_down_and_verifies_tokens_once_it_is_up() {
    let system = System::start().await;
    let (ada, _) = system.sign_up("Ada Lovelace").await;
    let auth = Forwarder::reserve();
    let jwks_url = format!("http://127.0.0.1:{}/.well-known/jwks.json", auth.port);

    let started = Instant::now();
    let router = RouterProcess::start(binary(), &system.stack, options(&[("ROUTER_JWKS_URL", &jwks_url)])).await;
    let gql = Gql::new(router.graphql_url());
    let ready_after = started.elapsed();
    assert!(ready_after < Duration::from_secs(15), "the router serves without auth");
    assert_eq!(gql.run("{ __typename }", json!({})).await.data()["__typename"], "Query");
    let early = gql.with_token(&ada.access_token).run("{ me { id } }", json!({})).await;
    assert_eq!(early.status, 503, "{}", early.body);
    assert!(early.body["data"].is_null());

    auth.start(system.stack["auth"].addr).await;
    let auth_up = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let me = gql.with_token(&ada.access_token).run("{ me { id } }", json!({})).await;
        if me.status == 200 {
            assert_eq!(me.data()["me"]["id"], ada.user_id.as_str());
            eprintln!(
                "auth down: router ready in {ready_after:?}; tokens verified {:?} after auth came up",
                auth_up.elapsed()
            );
            break;
        }
        assert!(Instant::now() < deadline, "keys never loaded: {}", me.body);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // A bad token is still refused once keys are there.
    let forged = format!("Bearer {}", forged_token(&ada.user_id));
    assert_eq!(gql.run_with_authorization(&forged, "{ me { id } }", json!({})).await.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subgraph_that_is_down_is_an_internal_error_without_its_details() {
    let dead = Forwarder::reserve();
    let dead_url = format!("http://127.0.0.1:{}", dead.port);
    let system = System::start_with(options(&[("ANALYTICS_URL", &dead_url)])).await;
    let (ada, ada_gql) = system.sign_up("Ada Lovelace").await;

    let response = ada_gql.run("{ analytics { totalApplications } }", json!({})).await;
    assert_eq!(response.error_code(), "INTERNAL", "{}", response.body);
    let text = response.body.to_string();
    assert!(!text.contains("127.0.0.1") && !text.contains(&dead.port.to_string()), "leaks: {text}");
    assert!(!text.contains("SUBREQUEST"), "only contract codes: {text}");

    // A request that is wrong as sent keeps its message, with a contract code.
    let invalid = ada_gql.run("{ nope }", json!({})).await;
    assert_eq!(invalid.error_code(), "BAD_USER_INPUT", "{}", invalid.body);
    assert!(invalid.errors()[0]["message"].as_str().unwrap().contains("nope"));

    // The same over a WebSocket, where Hive writes the messages itself.
    let mut ws = WsClient::connect(&system.router.ws_url(), bearer(&ada.access_token)).await.expect("acknowledged");
    ws.subscribe("down", "{ analytics { totalApplications } }").await;
    let failed = ws.next_message(Duration::from_secs(5)).await.expect("an answer").to_string();
    assert!(failed.contains("\"INTERNAL\"") && !failed.contains("127.0.0.1"), "{failed}");
    ws.subscribe("invalid", "{ nope }").await;
    let refused = loop {
        let message = ws.next_message(Duration::from_secs(5)).await.expect("an answer");
        if message["id"] == "invalid" {
            break message;
        }
    };
    assert_eq!(refused["payload"][0]["extensions"]["code"], "BAD_USER_INPUT", "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_requests_are_refused_and_every_worker_keeps_serving() {
    let system = System::start().await;
    let deep = format!("{{ {}b{} }}", "a { ".repeat(60), " }".repeat(60));
    let deep_variables = json!({ "query": "{ __typename }", "variables": { "x": serde_json::from_str::<Value>(&format!("{}{}", "[".repeat(100), "]".repeat(100))).unwrap() } });
    let client = reqwest::Client::new();
    // More attempts than the router has workers: none of them may be lost.
    for _ in 0..6 {
        let started = Instant::now();
        let refused = system.gql.run(&deep, json!({})).await;
        assert_eq!(refused.error_code(), "BAD_USER_INPUT", "{}", refused.body);
        let body = client.post(system.router.graphql_url()).json(&deep_variables).send().await.unwrap();
        assert_eq!(body.status(), 400);
        assert!(started.elapsed() < Duration::from_secs(2), "refused at once");
    }
    for _ in 0..6 {
        assert_eq!(system.gql.run("{ __typename }", json!({})).await.data()["__typename"], "Query");
    }
    // The same document over a WebSocket never reaches Hive's parser either.
    let mut ws = WsClient::connect(&system.router.ws_url(), json!({})).await.expect("acknowledged");
    ws.subscribe("deep", &deep).await;
    let refused = ws.next_message(Duration::from_secs(5)).await.expect("an answer");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "BAD_USER_INPUT", "{refused}");
    ws.subscribe("fine", "{ __typename }").await;
    let fine = ws.next_message(Duration::from_secs(5)).await.expect("still served");
    assert_eq!(fine["payload"]["data"]["__typename"], "Query", "{fine}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_under_the_graphql_endpoint_are_gated_too() {
    let system = System::start_with(options(&[("RATE_LIMIT_PER_SECOND", "0.5"), ("RATE_LIMIT_BURST", "20")])).await;
    let (ada, _) = system.sign_up("Ada Lovelace").await;
    let under = Gql::new(format!("{}/x", system.router.graphql_url()));
    let forged = format!("Bearer {}", forged_token(&ada.user_id));
    assert_eq!(under.run_with_authorization(&forged, "{ me { id } }", json!({})).await.status, 401);
    let mut limited = 0;
    for _ in 0..40 {
        if under.run("{ __typename }", json!({})).await.status == 429 {
            limited += 1;
        }
    }
    assert!(limited >= 15, "only {limited} of 40 refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connection_init_closes_the_connection_and_leaves_no_relay() {
    let system = System::start().await;
    let (ada, _) = system.sign_up("Ada Lovelace").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let baseline = system.router.open_sockets();
    let mut ws = WsClient::connect(&system.router.ws_url(), bearer(&ada.access_token)).await.expect("acknowledged");
    for _ in 0..20 {
        ws.send(json!({ "type": "connection_init", "payload": bearer(&ada.access_token) })).await;
    }
    assert_eq!(ws.close_code(Duration::from_secs(5)).await, Some(4429));
    drop(ws);
    let deadline = Instant::now() + Duration::from_secs(15);
    while system.router.open_sockets() > baseline + 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(system.router.open_sockets() <= baseline + 2, "{baseline} → {}", system.router.open_sockets());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_nested_in_headers_is_verified_as_hive_would_read_it() {
    let system = System::start().await;
    let (ada, _) = system.sign_up("Ada Lovelace").await;
    let url = system.router.ws_url();
    let forged = format!("Bearer {}", forged_token(&ada.user_id));
    for payload in [json!({ "headers": { "Authorization": forged } }), json!({ "Authorization": 123 })] {
        let refused = WsClient::connect(&url, payload.clone()).await;
        assert!(matches!(refused, Err(Refused::Closed(Some(4403)))), "{payload}: {:?}", refused.err());
    }
    let mut ws =
        WsClient::connect(&url, json!({ "headers": { "authorization": format!("Bearer {}", ada.access_token) } }))
            .await
            .expect("a real token nested in headers is accepted");
    ws.subscribe("me", "{ me { id } }").await;
    let me = ws.next_message(Duration::from_secs(5)).await.expect("an answer");
    assert_eq!(me["payload"]["data"]["me"]["id"], ada.user_id.as_str(), "{me}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_mutations_split_across_fetches_are_refused_whole() {
    let system = System::start().await;
    let (ada, _) = system.sign_up("Ada Lovelace").await;
    let split = format!(
        r#"mutation {{ a: login(email: "{0}", password: "wrong password 1") {{ accessToken }}
            x: deleteApplication(id: "00000000-0000-0000-0000-000000000000")
            b: login(email: "{0}", password: "wrong password 2") {{ accessToken }} }}"#,
        ada.email
    );
    let refused = system.gql.run(&split, json!({})).await;
    assert_eq!(refused.error_code(), "BAD_USER_INPUT", "{}", refused.body);
    assert_eq!(refused.errors().len(), 1, "nothing ran: {}", refused.body);
    // Five wrong guesses are all still the owner's.
    let login =
        format!(r#"mutation {{ login(email: "{}", password: "{}") {{ accessToken }} }}"#, ada.email, ada.password);
    assert!(system.gql.run(&login, json!({})).await.data()["login"]["accessToken"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_with_a_nul_character_is_bad_input_not_internal() {
    let system = System::start().await;
    let (_, ada) = system.sign_up("Ada Lovelace").await;
    let cases = [
        ("{ users(search: \"ab\\u0000\") { totalCount } }", "search"),
        ("{ applications(filter: { search: \"a\\u0000b\" }) { totalCount } }", "filter.search"),
        ("mutation { updateProfile(input: { skills: [\"a\\u0000b\"] }) { id } }", "input.skills.0"),
    ];
    for (query, field) in cases {
        let response = ada.run(query, json!({})).await;
        assert_eq!(response.error_code(), "BAD_USER_INPUT", "{query}: {}", response.body);
        assert_eq!(response.error_field(), Some(field), "{query}");
    }
}
