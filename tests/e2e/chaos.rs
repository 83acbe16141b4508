//! Chaos against the machine's own servers; `make chaos` runs these one at a
//! time (they are ignored by `make test`, whose tests share those servers).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::RunQueryDsl;
use futures::StreamExt;
use jobtracker_testkit::{Gql, WsClient};
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::helpers::{System, bearer, eventually, scrape, total};
use crate::load::{Ledger, User};

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

/// Users of the load, and how long it runs; one mutation per user every PACE.
const USERS: usize = 100;
const LOAD: Duration = Duration::from_secs(60);
const PACE: Duration = Duration::from_millis(500);
/// Kept interviews are scheduled only before this point of the load, so
/// their reminders (10 to 25 s after) fall due before it ends.
const KEEP_FOR: Duration = Duration::from_secs(35);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "make chaos: restarts the machine's RabbitMQ and PostgreSQL"]
async fn under_load_with_rabbitmq_postgresql_a_subgraph_and_a_consumer_restarted_nothing_acknowledged_is_lost() {
    let cluster = Cluster::start(1, &[("NOTIFICATIONS_POLL_MILLIS", "200")]).await;
    let report = load_through_chaos(&cluster).await;
    println!("chaos counts (one replica): {report}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "make chaos: restarts the machine's RabbitMQ and PostgreSQL"]
async fn two_replicas_of_everything_pass_the_journey_push_to_either_replica_and_keep_the_chaos_counts() {
    let cluster = Cluster::start(2, &[("NOTIFICATIONS_POLL_MILLIS", "200")]).await;
    crate::journey::account_journey(&cluster.gql).await;
    pushes_reach_the_replica_holding_each_subscription(&cluster).await;
    let report = load_through_chaos(&cluster).await;
    // Both replicas of each consumer took their share of the events.
    for service in ["analytics", "notifications", "search"] {
        for (index, replica) in cluster.replicas.iter().enumerate() {
            let scraped = scrape(&format!("http://127.0.0.1:{}", replica.ports[service])).await;
            let applied = total(&scraped, "events_consumed_total", &[("outcome", "applied")]).unwrap_or(0.0);
            assert!(applied > 0.0, "{service} replica {index} consumed nothing");
        }
    }
    println!("chaos counts (two replicas): {report}");
    cluster.stop().await;
}

/// Six users, each subscribed to their dashboard through one router and
/// changing things through the other: the subgraph replica holding the
/// subscription (either, behind the proxy) pushes each their own change.
async fn pushes_reach_the_replica_holding_each_subscription(cluster: &Cluster) {
    const SUBSCRIBERS: usize = 6;
    let mut subscribers = Vec::new();
    for index in 0..SUBSCRIBERS {
        let (account, _) = cluster.sign_up(&format!("Subscriber {index}")).await;
        let router = cluster.replicas[index % 2].ports[crate::cluster::ROUTER];
        let init = bearer(&account.access_token);
        let mut ws = WsClient::connect(&format!("ws://127.0.0.1:{router}/graphql"), init).await.expect("acknowledged");
        ws.subscribe("d", "subscription { dashboardUpdated { recentApplications(limit: 1) { company } } }").await;
        subscribers.push((account, ws));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for (index, (account, _)) in subscribers.iter().enumerate() {
        let other = cluster.router_of((index + 1) % 2).with_token(&account.access_token);
        let created = other
            .run(
                "mutation($c: String!) { createApplication(input: { company: $c, position: \"Engineer\" }) { id } }",
                json!({ "c": format!("Pushed {index}") }),
            )
            .await;
        assert!(created.errors().is_empty(), "{}", created.body);
    }
    for (index, (_, ws)) in subscribers.iter_mut().enumerate() {
        let message = ws.next_message(Duration::from_secs(10)).await.expect("a push");
        let company = &message["payload"]["data"]["dashboardUpdated"]["recentApplications"][0]["company"];
        assert_eq!(company, &json!(format!("Pushed {index}")), "{message}");
    }
}

/// Runs the load while RabbitMQ, one subgraph, PostgreSQL and one consumer
/// go down in turn (in replica 0), waits until everything has settled, and
/// checks every count; what it counted.
async fn load_through_chaos(cluster: &Cluster) -> String {
    let users: Vec<Arc<User>> = futures::stream::iter(0..USERS)
        .map(|index| async move {
            let (account, gql) = cluster.sign_up(&format!("Load User {index}")).await;
            Arc::new(User { account, gql })
        })
        .buffered(8)
        .collect()
        .await;
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let drivers: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(index, user)| {
            tokio::spawn(crate::load::drive(index, user.clone(), PACE, started + KEEP_FOR, stop.clone()))
        })
        .collect();

    let mut timeline = Vec::new();
    let at = async |seconds: u64| tokio::time::sleep_until((started + Duration::from_secs(seconds)).into()).await;
    at(5).await;
    rabbitmq("stop_app");
    let back = BrokerBack;
    timeline.push(format!("{:.0} s RabbitMQ stopped", started.elapsed().as_secs_f64()));
    at(13).await;
    drop(back);
    timeline.push(format!("{:.0} s RabbitMQ started", started.elapsed().as_secs_f64()));
    at(20).await;
    cluster.kill(0, "applications").await;
    timeline.push(format!("{:.0} s applications killed (-9) and restarted", started.elapsed().as_secs_f64()));
    at(28).await;
    let restarted = std::process::Command::new("pg_ctlcluster").args(["15", "main", "restart"]).status().unwrap();
    assert!(restarted.success(), "PostgreSQL restarted");
    timeline.push(format!("{:.0} s PostgreSQL restarted", started.elapsed().as_secs_f64()));
    at(38).await;
    // Mid-batch: while the analytics queue has deliveries in flight.
    let analytics_queue = cluster.env.bus.queue(jobtracker_analytics::EVENTS_QUEUE.name);
    let in_flight = || cluster.queues().into_iter().find(|(name, _, _)| *name == analytics_queue).map_or(0, |q| q.2);
    let mut unacked = 0;
    for _ in 0..20 {
        unacked = in_flight();
        if unacked > 0 {
            break;
        }
    }
    cluster.kill(0, "analytics").await;
    timeline.push(format!(
        "{:.0} s analytics killed (-9) with {unacked} deliveries unacknowledged, restarted",
        started.elapsed().as_secs_f64()
    ));
    at(LOAD.as_secs()).await;
    stop.store(true, Ordering::Relaxed);
    let mut ledgers = Vec::new();
    for driver in drivers {
        ledgers.push(driver.await.expect("a driver"));
    }

    // Settled: every outbox sent, every queue (dead-letter queues included) empty.
    let settled = eventually(180, async || {
        let mut pending = 0.0;
        for spec in jobtracker_services::SERVICES {
            pending += cluster.sum(spec.name, "outbox_pending_events", &[]).await;
        }
        pending == 0.0 && cluster.queues().iter().all(|(_, ready, unacked)| ready + unacked == 0)
    })
    .await;
    assert!(settled, "not settled: {:?}", cluster.queues());
    let settle_time = started.elapsed() - LOAD;
    let due =
        "SELECT count(*) AS count FROM deliveries WHERE state = 'PENDING' AND due_at <= now() + interval '1 second'";
    let reminders_due = eventually(120, async || {
        let pending = rows::<Count>(cluster, "notifications", due).await;
        started.elapsed() > KEEP_FOR + Duration::from_secs(30) && pending[0].count == 0
    })
    .await;
    assert!(reminders_due, "due reminders still pending");

    let counts = check(cluster, &users, &ledgers).await;
    let acknowledged: usize = ledgers.iter().map(|l| l.acknowledged).sum();
    let mut failed: BTreeMap<String, usize> = BTreeMap::new();
    for (reason, count) in ledgers.iter().flat_map(|l| &l.failed) {
        *failed.entry(reason.clone()).or_default() += count;
    }
    format!(
        "{USERS} users, {acknowledged} mutations acknowledged, failed {failed:?}; {}; settled {:.1} s after the load; {counts}",
        timeline.join(", "),
        settle_time.as_secs_f64()
    )
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(QueryableByName, Debug)]
struct ApplicationRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    owner_id: String,
    #[diesel(sql_type = Text)]
    status: String,
}

#[derive(QueryableByName, Debug)]
struct InterviewRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    owner_id: String,
    #[diesel(sql_type = Text)]
    company: String,
    #[diesel(sql_type = Bool)]
    cancelled: bool,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct CounterRow {
    #[diesel(sql_type = Text)]
    owner_id: String,
    #[diesel(sql_type = Text)]
    metric: String,
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Text)]
    label: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct DocumentRow {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    owner_id: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    words: String,
}

#[derive(QueryableByName, Debug)]
struct DeliveryRow {
    #[diesel(sql_type = Text)]
    interview_id: String,
    #[diesel(sql_type = Text)]
    channel: String,
    #[diesel(sql_type = Text)]
    state: String,
}

async fn rows<T: QueryableByName<diesel::pg::Pg> + Send + 'static>(
    cluster: &Cluster,
    service: &str,
    query: &str,
) -> Vec<T> {
    let mut conn = cluster.database(service).await;
    diesel::sql_query(query).load(&mut conn).await.unwrap_or_else(|err| panic!("{query}: {err}"))
}

/// Every check after the run; the counts it verified.
async fn check(cluster: &Cluster, users: &[Arc<User>], ledgers: &[Ledger]) -> String {
    let applications: HashMap<String, ApplicationRow> =
        rows::<ApplicationRow>(cluster, "applications", "SELECT id::text, owner_id::text, status FROM applications")
            .await
            .into_iter()
            .map(|row| (row.id.clone(), row))
            .collect();
    let interviews: HashMap<String, InterviewRow> = rows::<InterviewRow>(
        cluster,
        "interviews",
        "SELECT id::text, owner_id::text, company, cancelled FROM interviews",
    )
    .await
    .into_iter()
    .map(|row| (row.id.clone(), row))
    .collect();

    // 1. Every acknowledged mutation holds.
    let (mut present, mut absent) = (0, 0);
    for (user, ledger) in users.iter().zip(ledgers) {
        for (id, expected) in &ledger.applications {
            let row = applications.get(id);
            match expected.deleted {
                Some(true) => assert!(row.is_none(), "deleted application {id} is back"),
                Some(false) => {
                    let row = row.unwrap_or_else(|| panic!("acknowledged application {id} lost"));
                    assert_eq!(row.owner_id, user.account.user_id);
                    if let Some(status) = &expected.status {
                        assert_eq!(&row.status, status, "application {id}");
                    }
                }
                None => continue,
            }
            if row.is_some() { present += 1 } else { absent += 1 }
        }
        for (id, expected) in &ledger.interviews {
            let row = interviews.get(id);
            match ledger.interview_gone(expected) {
                Some(true) => assert!(row.is_none(), "interview {id} should be gone: {expected:?}"),
                Some(false) => {
                    let row = row.unwrap_or_else(|| panic!("acknowledged interview {id} lost"));
                    if let Some(cancelled) = expected.cancelled {
                        assert_eq!(row.cancelled, cancelled, "interview {id}");
                    }
                }
                None => continue,
            }
            if row.is_some() { present += 1 } else { absent += 1 }
        }
    }

    // 2. Analytics through the router equal a recount of the source tables.
    for user in users {
        let owner = &user.account.user_id;
        let mut by_status: BTreeMap<&str, i64> = BTreeMap::new();
        for row in applications.values().filter(|row| &row.owner_id == owner) {
            *by_status.entry(row.status.as_str()).or_default() += 1;
        }
        let interview_count = interviews.values().filter(|row| &row.owner_id == owner && !row.cancelled).count();
        let analytics = user
            .gql
            .run("{ analytics { totalApplications interviewCount statusBreakdown { status count } } }", json!({}))
            .await;
        let analytics = &analytics.data()["analytics"];
        assert_eq!(analytics["totalApplications"], by_status.values().sum::<i64>(), "{owner}");
        assert_eq!(analytics["interviewCount"], interview_count, "{owner}");
        for entry in analytics["statusBreakdown"].as_array().unwrap() {
            let status = entry["status"].as_str().unwrap();
            assert_eq!(entry["count"], by_status.get(status).copied().unwrap_or(0), "{owner} {status}");
        }
    }
    // ... and the read model equals a rebuild from the events.
    let counters =
        "SELECT owner_id::text, metric, key, label, count FROM user_counters WHERE count <> 0 ORDER BY 1, 2, 3";
    let before = rows::<CounterRow>(cluster, "analytics", counters).await;
    cluster.command(&["analytics", "rebuild"]);
    let rebuilt = rows::<CounterRow>(cluster, "analytics", counters).await;
    assert!(before == rebuilt, "analytics differ from a rebuild ({} vs {} counters)", before.len(), rebuilt.len());

    // 3. The search index equals a reindex.
    let documents = "SELECT kind, id::text, owner_id::text, version, words::text FROM documents WHERE deleted_at IS NULL ORDER BY 1, 2";
    let indexed = rows::<DocumentRow>(cluster, "search", documents).await;
    cluster.command(&["search", "reindex"]);
    let reindexed = rows::<DocumentRow>(cluster, "search", documents).await;
    assert!(
        indexed == reindexed,
        "the index differs from a reindex ({} vs {} documents)",
        indexed.len(),
        reindexed.len()
    );

    // 4. Every due reminder sent exactly once: one e-mail in MailDev and one
    //    notification per kept interview; nothing for the others.
    let deliveries = rows::<DeliveryRow>(
        cluster,
        "notifications",
        "SELECT interview_id::text, channel, state FROM deliveries WHERE kind = 'INTERVIEW_REMINDER'",
    )
    .await;
    let addresses: HashMap<&str, &str> =
        users.iter().map(|u| (u.account.email.as_str(), u.account.user_id.as_str())).collect();
    let mails: Vec<Value> =
        reqwest::get("http://127.0.0.1:1080/api/email").await.expect("MailDev").json().await.unwrap();
    let mut mailed: HashMap<(String, String), usize> = HashMap::new();
    for mail in &mails {
        if let Some(owner) = mail["to"][0]["address"].as_str().and_then(|a| addresses.get(a)) {
            *mailed.entry((owner.to_string(), mail["subject"].as_str().unwrap_or("").to_string())).or_default() += 1;
        }
    }
    let mut kept = 0;
    for interview in interviews.values() {
        let planned: Vec<&DeliveryRow> = deliveries.iter().filter(|d| d.interview_id == interview.id).collect();
        let sent: Vec<&&DeliveryRow> = planned.iter().filter(|d| d.state == "SENT").collect();
        let subject = format!("Interview with {} in 1 hour", interview.company);
        let mails = mailed.get(&(interview.owner_id.clone(), subject)).copied().unwrap_or(0);
        if interview.company.starts_with('K') {
            kept += 1;
            let mut channels: Vec<&str> = sent.iter().map(|d| d.channel.as_str()).collect();
            channels.sort();
            assert_eq!(channels, ["EMAIL", "IN_APP"], "interview {}: {planned:?}", interview.id);
            assert_eq!(mails, 1, "e-mails for {}", interview.company);
        } else {
            assert!(sent.is_empty() && mails == 0, "{} reminded before it was due", interview.company);
        }
    }
    let user_mails: usize = mailed.values().sum();
    assert_eq!(user_mails, kept, "e-mails other than one per kept interview");
    let in_app = rows::<Count>(
        cluster,
        "notifications",
        "SELECT count(*) AS count FROM notifications WHERE kind = 'INTERVIEW_REMINDER'",
    )
    .await;
    assert_eq!(in_app[0].count, kept as i64, "one reminder in the app per kept interview");

    // 5. Nothing left in any queue.
    let queues = cluster.queues();
    assert!(queues.iter().all(|(_, ready, unacked)| ready + unacked == 0), "{queues:?}");
    format!(
        "{present} acknowledged records present and {absent} acknowledged deletions absent, \
         {} applications and {} interviews in the tables, analytics of {} users equal to the recount and \
         {} counters to a rebuild, {} search documents equal to a reindex, {kept} due reminders each sent \
         once by e-mail and in the app ({user_mails} e-mails), {} queues with 0 ready and 0 unacknowledged",
        applications.len(),
        interviews.len(),
        users.len(),
        before.len(),
        indexed.len(),
        queues.len()
    )
}
