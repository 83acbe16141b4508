//! Chaos against the machine's own servers; `make chaos` runs these one at a
//! time (they are ignored by `make test`, whose tests share those servers).

use std::time::Duration;

use jobtracker_testkit::Gql;
use serde_json::json;

use crate::helpers::{System, eventually, scrape, total};

fn rabbitmq(command: &str) {
    let status = std::process::Command::new("rabbitmqctl").args(["-q", command]).status().expect("rabbitmqctl runs");
    assert!(status.success(), "rabbitmqctl {command}");
}

/// Starts RabbitMQ again however the test ends.
struct BrokerBack;

impl Drop for BrokerBack {
    fn drop(&mut self) {
        rabbitmq("start_app");
    }
}

async fn total_applications(client: &Gql) -> i64 {
    client.run("{ analytics { totalApplications } }", json!({})).await.data()["analytics"]["totalApplications"]
        .as_i64()
        .unwrap()
}

async fn create(client: &Gql, company: &str) {
    let created = client
        .run(
            "mutation($i: CreateApplicationInput!) { createApplication(input: $i) { id } }",
            json!({ "i": { "company": company, "position": "Engineer" } }),
        )
        .await;
    assert!(created.errors().is_empty(), "{}", created.body);
}

async fn gauge(url: &str, metric: &str) -> f64 {
    total(&scrape(url).await, metric, &[]).unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "make chaos: stops and starts the machine's RabbitMQ"]
async fn with_rabbitmq_down_services_start_serve_and_publish_what_accumulated_once_it_is_back() {
    const WHILE_DOWN: usize = 20;
    let system = System::start().await;
    let (ada, client) = system.sign_up("Ada Lovelace").await;
    create(&client, "Before").await;
    assert!(eventually(30, async || total_applications(&client).await == 1).await, "the first application counted");

    rabbitmq("stop_app");
    let _back = BrokerBack;
    // A replica started now comes up and serves reads without the broker.
    let spec = &jobtracker_applications::SPEC;
    let mut env = system.stack.env.service_env(spec).with_url("auth", &system.stack["auth"].url());
    env.service.events.queues = jobtracker_kit::service::all_queues(jobtracker_services::SERVICES);
    let replica = tokio::time::timeout(Duration::from_secs(20), jobtracker_testkit::spawn(spec, env))
        .await
        .expect("a replica starts while RabbitMQ is down");
    let listed = Gql::new(replica.graphql_url())
        .with_token(&ada.access_token)
        .run("{ applications { edges { node { company } } } }", json!({}))
        .await;
    assert_eq!(listed.data()["applications"]["edges"][0]["node"]["company"], "Before", "{}", listed.body);

    // Mutations are acknowledged meanwhile; their events wait in the outbox.
    for i in 0..WHILE_DOWN {
        create(&client, &format!("While down {i}")).await;
    }
    let applications = system.stack["applications"].url();
    assert_eq!(gauge(&applications, "outbox_pending_events").await, WHILE_DOWN as f64);
    assert!(gauge(&applications, "outbox_oldest_pending_age_seconds").await >= 0.0);
    assert_eq!(total_applications(&client).await, 1, "nothing reached analytics while the broker was down");

    rabbitmq("start_app");
    let started = std::time::Instant::now();
    assert!(
        eventually(60, async || { total_applications(&client).await == 1 + WHILE_DOWN as i64 }).await,
        "every acknowledged application counted"
    );
    assert!(
        eventually(30, async || gauge(&applications, "outbox_pending_events").await == 0.0).await,
        "the outbox drained"
    );
    let analytics = system.stack["analytics"].url();
    assert!(
        eventually(30, async || gauge(&analytics, "events_queue_messages").await == 0.0).await,
        "the dead-letter depth sampled"
    );
    assert_eq!(gauge(&analytics, "events_dead_letter_messages").await, 0.0);
    println!(
        "chaos counts: {WHILE_DOWN} mutations acknowledged while RabbitMQ was down, {} counted by analytics {:.1} s after it came back, outbox 0, queue 0, DLQ 0",
        total_applications(&client).await,
        started.elapsed().as_secs_f64()
    );
    drop(replica);
}
