//! One trace id from the client through the router, the applications
//! subgraph, its outbox row and event (envelope and AMQP header), to the
//! analytics and notifications consumers' log lines.

use std::io::Write;
use std::sync::{Arc, Mutex};

use jobtracker_testkit::events::EventTap;
use serde_json::json;

use crate::helpers::{System, eventually};

/// Log lines of this process (the subgraphs run in it), kept for reading.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn install() -> Self {
        let captured = Self::default();
        let writer = captured.clone();
        // Installed before the stack starts, so the services' own init keeps it.
        tracing_subscriber::fmt()
            .with_env_filter("warn,jobtracker_kit::events::consumer=debug")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        captured
    }

    fn lines_with(&self, needle: &str) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.0.lock().unwrap()).to_string();
        text.lines().filter(|line| line.contains(needle)).map(str::to_string).collect()
    }
}

const CREATE: &str = "mutation($i: CreateApplicationInput!) { createApplication(input: $i) { id } }";

/// An application created through the router by a client that traces.
async fn create_traced(system: &System, token: &str, traceparent: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(system.router.graphql_url())
        .bearer_auth(token)
        .header("traceparent", traceparent)
        .json(&json!({ "query": CREATE, "variables": { "i": { "company": "Acme", "position": "Engineer" } } }))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_id_follows_a_mutation_to_its_event_and_its_consumers() {
    let logs = Captured::install();
    let system = System::start().await;
    let (ada, _) = system.sign_up("Ada Lovelace").await;
    let mut tap = EventTap::start(&system.stack.env.bus, "application.*").await;
    let client = reqwest::Client::new();

    // A frontend that traces: its trace id is kept, the router answers with its own span.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = create_traced(&system, &ada.access_token, &format!("00-{trace_id}-00f067aa0ba902b7-01")).await;
    let answered = response.headers()["traceparent"].to_str().unwrap().to_string();
    assert!(answered.starts_with(&format!("00-{trace_id}-")), "{answered}");
    assert!(!answered.contains("00f067aa0ba902b7"), "the router's span is its own: {answered}");
    let id = response.json::<serde_json::Value>().await.unwrap()["data"]["createApplication"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The event carries it (the relay also puts it in the AMQP header the consumers read first).
    let created = tap.take(1).await.remove(0);
    assert_eq!(created.aggregate_id.to_string(), id);
    let carried = created.traceparent.expect("the event carries the trace");
    assert!(carried.starts_with(&format!("00-{trace_id}-")), "{carried}");

    // A client that sends none gets a new trace, returned to it and followed just the same.
    let response = client
        .post(system.router.graphql_url())
        .bearer_auth(&ada.access_token)
        .json(&json!({
            "query": "mutation($id: ID!) { changeApplicationStatus(id: $id, status: APPLIED) { id } }",
            "variables": { "id": id },
        }))
        .send()
        .await
        .unwrap();
    let fresh = response.headers()["traceparent"].to_str().unwrap().split('-').nth(1).unwrap().to_string();
    assert_ne!(fresh, trace_id);
    let changed = tap.take(1).await.remove(0);
    assert!(changed.traceparent.as_deref().is_some_and(|t| t.contains(&fresh)), "{changed:?}");

    // Every consumer of the two events logs under the same trace ids.
    for (trace, queues) in [
        (trace_id.to_string(), &["analytics.events", "search.documents"][..]),
        (fresh.clone(), &["analytics.events", "notifications.events", "search.documents"][..]),
    ] {
        for queue in queues {
            let logged = async || logs.lines_with(&format!("trace_id={trace}")).iter().any(|line| line.contains(queue));
            assert!(
                eventually(10, logged).await,
                "{queue} logged nothing under trace {trace}: {:?}",
                logs.lines_with("trace_id=")
            );
        }
    }
}

/// An OTLP/HTTP collector: keeps every body posted to `/v1/traces`.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<Vec<u8>>>>);

impl Collector {
    async fn start() -> (Self, String) {
        let collector = Self::default();
        let bodies = collector.clone();
        let routes = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: axum::body::Bytes| {
                let bodies = bodies.clone();
                async move {
                    bodies.0.lock().unwrap().push(body.to_vec());
                    ""
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, routes).await });
        (collector, url)
    }

    /// Whether a posted batch holds a span of `trace_id` (its 16 raw bytes,
    /// as protobuf carries them) beside `marker` (a service or span attribute).
    fn has(&self, trace_id: &[u8], marker: &str) -> bool {
        self.0.lock().unwrap().iter().any(|body| {
            body.windows(trace_id.len()).any(|w| w == trace_id)
                && body.windows(marker.len()).any(|w| w == marker.as_bytes())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_otlp_endpoint_the_router_and_the_services_export_spans_of_one_trace() {
    let (collector, endpoint) = Collector::start().await;
    // The services of this process export there; the router process is told by its variable.
    jobtracker_kit::telemetry::init_with_otlp(Some(&endpoint));
    let options = jobtracker_testkit::RouterOptions {
        env: vec![("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint.clone())],
        ..Default::default()
    };
    let system = System::start_with(options).await;
    let (ada, _) = system.sign_up("Ada Lovelace").await;
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let response = create_traced(&system, &ada.access_token, &format!("00-{trace_id}-b7ad6b7169203331-01")).await;
    assert_eq!(response.status(), 200);
    let raw: Vec<u8> = (0..16).map(|i| u8::from_str_radix(&trace_id[2 * i..2 * i + 2], 16).unwrap()).collect();
    // The router's spans (its resource names it), the subgraph's request span and the analytics consumer's.
    for marker in ["router", "request", "analytics.events"] {
        assert!(
            eventually(20, async || collector.has(&raw, marker)).await,
            "no exported span of the trace with {marker:?} ({} batches)",
            collector.0.lock().unwrap().len()
        );
    }
}
