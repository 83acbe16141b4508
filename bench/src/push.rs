//! Event-to-push latency: a `dashboardUpdated` subscription through the
//! router while another connection changes applications at a fixed rate.
//! For each mutation: time from its response to the first push after it.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::{Login, Sample, graphql, http, login, report};

pub async fn latency(login_as: &Login, rate: u32, seconds: u64) -> anyhow::Result<()> {
    let http = http();
    let (token, _) = login(&http, login_as).await?;
    let ws_url = login_as.router.replacen("http://", "ws://", 1);
    let mut request = ws_url.into_client_request()?;
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
    let send = |value: Value| Message::Text(value.to_string().into());
    ws.send(send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } })))
        .await?;
    ws.send(send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { dashboardUpdated { inProgressCount } }" } })))
        .await?;

    // Push arrival times, from the reader task.
    let (pushes_tx, mut pushes) = mpsc::unbounded_channel::<Instant>();
    let (mut sink, mut stream) = ws.split();
    let reader = tokio::spawn(async move {
        while let Some(Ok(message)) = stream.next().await {
            if let Message::Text(text) = message {
                let value: Value = serde_json::from_str(&text).unwrap_or_default();
                match value["type"].as_str() {
                    Some("next") => drop(pushes_tx.send(Instant::now())),
                    Some("ping") => drop(sink.send(Message::Text(json!({ "type": "pong" }).to_string().into())).await),
                    _ => {}
                }
            }
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;

    let create = "mutation { createApplication(input: { company: \"Push Bench\", position: \"Engineer\", status: APPLIED }) { id } }";
    let change = "mutation($id: ID!, $s: ApplicationStatus!) { changeApplicationStatus(id: $id, status: $s) { id } }";
    let id = graphql(&http, &login_as.router, &token, create, json!({})).await?["createApplication"]["id"].clone();
    tokio::time::sleep(Duration::from_millis(500)).await;
    while pushes.try_recv().is_ok() {}

    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let mut ticker = tokio::time::interval(interval);
    let mut acknowledged = Vec::new();
    let statuses = ["INTERVIEW", "APPLIED"];
    for i in 0..(u64::from(rate) * seconds) as usize {
        ticker.tick().await;
        graphql(&http, &login_as.router, &token, change, json!({ "id": id, "s": statuses[i % 2] })).await?;
        acknowledged.push(Instant::now());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut arrivals = Vec::new();
    while let Ok(at) = pushes.try_recv() {
        arrivals.push(at);
    }
    reader.abort();

    let millis: Vec<f64> = acknowledged
        .iter()
        .filter_map(|ack| {
            arrivals.iter().find(|at| *at >= ack).map(|at| at.duration_since(*ack).as_secs_f64() * 1000.0)
        })
        .collect();
    anyhow::ensure!(!millis.is_empty(), "no pushes received");
    println!(
        "{} mutations at {rate}/s, {} pushes ({} mutations had a push after them)",
        acknowledged.len(),
        arrivals.len(),
        millis.len()
    );
    let debounce = Sample { name: "debounce window (configured)".into(), millis: vec![100.0] };
    report(&[vec![
        Sample { name: format!("mutation acknowledged -> dashboardUpdated received, {rate}/s"), millis },
        debounce,
    ]]);
    Ok(())
}
