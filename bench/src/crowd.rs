//! A crowd of live tabs: `users` users with `tabs` WebSocket connections
//! each (subscriptions `dashboardUpdated`, `profileUpdated`,
//! `notificationReceived` in turn), arriving at `connects_per_second`; then
//! every user changes their profile and an application, and each tab's push
//! is timed from the acknowledgement of the mutation it follows. Prints what
//! was accepted and pushed, the latency percentiles, and the memory and CPU
//! of the processes named by `--pid name=pid`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::{Sample, graphql, http};

#[derive(clap::Args)]
pub struct Crowd {
    /// The router's /graphql.
    #[arg(long)]
    pub router: String,
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    #[arg(long, default_value_t = 10)]
    pub tabs: usize,
    #[arg(long, default_value_t = 200)]
    pub connects_per_second: u32,
    /// Users changing things per second once everyone is connected.
    #[arg(long, default_value_t = 100)]
    pub mutations_per_second: u32,
    /// Processes to measure, `name=pid` (the router, the subscribing subgraphs).
    #[arg(long = "pid")]
    pub pids: Vec<String>,
}

const SUBSCRIPTIONS: [&str; 3] = [
    "subscription { dashboardUpdated { recentApplications(limit: 1) { company } } }",
    "subscription { profileUpdated { headline } }",
    "subscription { notificationReceived { kind body } }",
];

/// What one tab saw: when it was acknowledged, and its pushes (time, text).
#[derive(Default)]
struct Tab {
    acknowledged: bool,
    pushes: Vec<(Instant, String)>,
}

/// When a mutation was sent, and when its answer came.
#[derive(Clone, Copy)]
struct Moment {
    sent: Instant,
    acknowledged: Instant,
}

/// What the tabs of one subscription saw.
struct Outcome {
    latency: Sample,
    /// From the mutation's send instead: what a gateway slow to answer
    /// mutations cannot hide.
    from_sent: Sample,
    lost: usize,
    /// Pushes that arrived before the mutation's own answer.
    early: usize,
    /// Tabs whose user's mutation failed (not counted either way).
    unchanged: usize,
}

impl Outcome {
    fn new(query: &str) -> Self {
        let field = query.split_whitespace().nth(2).unwrap_or(query).to_string();
        let sample = |name: &str| Sample { name: name.to_string(), millis: Vec::new() };
        Self { latency: sample(&field), from_sent: sample(&field), lost: 0, early: 0, unchanged: 0 }
    }

    fn print(&self) {
        let Self { latency, from_sent, lost, early, unchanged } = self;
        let pushed = latency.millis.len();
        let percentiles = if pushed == 0 {
            String::new()
        } else {
            format!(
                ", p50 {:.1} ms, p99 {:.1} ms (from the send: p50 {:.1} ms, p99 {:.1} ms)",
                latency.percentile(0.5),
                latency.percentile(0.99),
                from_sent.percentile(0.5),
                from_sent.percentile(0.99)
            )
        };
        println!(
            "  {}: {pushed} pushed ({early} before the mutation's answer), {lost} lost, {unchanged} without a change{percentiles}",
            latency.name
        );
    }
}

/// RSS (KiB) and CPU ticks (user + system) of a process.
fn usage(pid: &str) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()?;
    let ticks = cpu_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
    Some((rss, ticks))
}

/// User + system ticks from a `/proc/<pid>/stat` line (fields after the
/// command, which may itself hold spaces and parentheses).
fn cpu_ticks(stat: &str) -> Option<u64> {
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// CPU ticks (user + system) of every process, summed by its command line's
/// first words (`jobtracker run --target dashboard`, `postgres`, `beam.smp`):
/// where the machine's time went, not only the processes named by `--pid`.
fn ticks_by_command() -> HashMap<String, u64> {
    let mut by_command = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return by_command };
    for entry in entries.flatten() {
        let path = entry.path();
        let (Ok(stat), Ok(cmdline)) = (std::fs::read_to_string(path.join("stat")), std::fs::read(path.join("cmdline")))
        else {
            continue;
        };
        let Some(ticks) = cpu_ticks(&stat) else { continue };
        let words: Vec<String> = cmdline
            .split(|b| *b == 0)
            .filter(|w| !w.is_empty())
            .map(|w| String::from_utf8_lossy(w).to_string())
            .collect();
        let first = words.first().cloned().unwrap_or_default();
        let program = if first.starts_with('/') { first.rsplit('/').next().unwrap_or_default() } else { &first };
        let name = match words.iter().position(|w| w == "--target") {
            Some(at) => format!("{program} {}", words.get(at + 1).map_or("", String::as_str)),
            // A backend titles itself "postgres: 15/main: user database address state".
            None => match first.strip_prefix("postgres: ").map(|title| title.split_whitespace().nth(2)) {
                Some(Some(database)) => format!("postgres {database}"),
                Some(None) => "postgres".to_string(),
                None => program.to_string(),
            },
        };
        *by_command.entry(name).or_insert(0) += ticks;
    }
    by_command
}

/// Busy and total ticks of the whole machine (every core), from /proc/stat.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let numbers: Vec<u64> =
        stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|n| n.parse().ok()).collect();
    let total: u64 = numbers.iter().sum();
    let idle = numbers.get(3).copied().unwrap_or(0) + numbers.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// The machine's CPU at one moment: per command and in all.
struct CpuReading {
    at: Instant,
    by_command: HashMap<String, u64>,
    machine: (u64, u64),
}

impl CpuReading {
    fn now() -> Self {
        Self { at: Instant::now(), by_command: ticks_by_command(), machine: machine_ticks() }
    }

    /// What took the machine's CPU since this reading, busiest first.
    fn print_since(&self, label: &str) {
        let later = Self::now();
        let busy = later.machine.0.saturating_sub(self.machine.0) as f64
            / later.machine.1.saturating_sub(self.machine.1).max(1) as f64;
        let mut spent: Vec<(String, u64)> = later
            .by_command
            .into_iter()
            .map(|(name, ticks)| {
                let earlier = self.by_command.get(&name).copied().unwrap_or(0);
                (name, ticks.saturating_sub(earlier))
            })
            .filter(|(_, ticks)| *ticks > 0)
            .collect();
        spent.sort_by_key(|(_, ticks)| std::cmp::Reverse(*ticks));
        let seconds = later.at.duration_since(self.at).as_secs_f64().max(0.001);
        let top: Vec<String> =
            spent.iter().take(8).map(|(name, ticks)| format!("{name} {:.0} %", *ticks as f64 / seconds)).collect();
        println!("{label}: machine {:.0} % busy over {seconds:.1} s; {}", busy * 100.0, top.join(", "));
    }
}

async fn register(http: &reqwest::Client, router: &str, index: usize, run: &str) -> anyhow::Result<String> {
    let query = "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }";
    let input = json!({ "email": format!("crowd-{run}-{index}@example.com"), "password": "correct horse battery", "fullName": format!("Crowd {index}") });
    loop {
        let body: Value = http
            .post(router)
            .json(&json!({ "query": query, "variables": { "i": input } }))
            .send()
            .await?
            .json()
            .await?;
        if let Some(token) = body["data"]["register"]["accessToken"].as_str() {
            return Ok(token.to_string());
        }
        // The anonymous bucket of this one address: wait and try again.
        anyhow::ensure!(body["errors"][0]["extensions"]["code"] == "RATE_LIMITED", "register: {body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One tab: connects, subscribes, and records what arrives until the socket ends.
async fn tab(url: String, token: String, query: &'static str, seen: Arc<Mutex<Tab>>) -> anyhow::Result<()> {
    let mut request = url.into_client_request()?;
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
    let (ws, _) = tokio_tungstenite::connect_async(request).await?;
    let (mut sink, mut stream) = ws.split();
    let text = |value: Value| Message::Text(value.to_string().into());
    sink.send(text(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } })))
        .await?;
    while let Some(Ok(message)) = stream.next().await {
        let Message::Text(body) = message else { continue };
        let value: Value = serde_json::from_str(&body).unwrap_or_default();
        match value["type"].as_str() {
            Some("connection_ack") => {
                seen.lock().await.acknowledged = true;
                sink.send(text(json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }))).await?;
            }
            Some("next") => seen.lock().await.pushes.push((Instant::now(), value["payload"].to_string())),
            Some("ping") => sink.send(text(json!({ "type": "pong" }))).await?,
            _ => {}
        }
    }
    Ok(())
}

pub async fn run(crowd: Crowd) -> anyhow::Result<()> {
    let http = http();
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let started = Instant::now();
    let tokens: Vec<String> = futures::stream::iter(0..crowd.users)
        .map(|index| register(&http, &crowd.router, index, &run))
        .buffered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    println!("{} users registered in {:.1} s", tokens.len(), started.elapsed().as_secs_f64());
    let before: HashMap<String, (u64, u64)> = measured(&crowd.pids);

    let ws_url = crowd.router.replacen("http://", "ws://", 1);
    let interval = Duration::from_secs_f64(1.0 / f64::from(crowd.connects_per_second.max(1)));
    let mut ticker = tokio::time::interval(interval);
    let mut tabs = Vec::new();
    let connecting = Instant::now();
    for tab_index in 0..crowd.tabs {
        for (user, token) in tokens.iter().enumerate() {
            ticker.tick().await;
            let seen = Arc::new(Mutex::new(Tab::default()));
            let query = SUBSCRIPTIONS[tab_index % 3];
            tokio::spawn(tab(ws_url.clone(), token.clone(), query, seen.clone()));
            tabs.push((user, tab_index, seen));
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut accepted = 0;
    for (_, _, seen) in &tabs {
        accepted += usize::from(seen.lock().await.acknowledged);
    }
    println!(
        "{accepted} of {} tabs acknowledged ({:.1} s at {}/s)",
        tabs.len(),
        connecting.elapsed().as_secs_f64(),
        crowd.connects_per_second
    );
    let held: HashMap<String, (u64, u64)> = measured(&crowd.pids);

    // Each user: profile, then an application created and moved on; when
    // each mutation was sent and when it was acknowledged.
    let mut moments: Vec<[Option<Moment>; 3]> = vec![[None; 3]; crowd.users];
    let cpu_before = CpuReading::now();
    let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(crowd.mutations_per_second.max(1))));
    let mut changes = Vec::new();
    for (user, token) in tokens.iter().enumerate() {
        pace.tick().await;
        let (http, router, token) = (http.clone(), crowd.router.clone(), token.clone());
        changes.push(tokio::spawn(async move {
            let mut at = [None; 3];
            let timed = async |query: &str, variables: Value| {
                let sent = Instant::now();
                let data = graphql(&http, &router, &token, query, variables).await.ok()?;
                Some((data, Moment { sent, acknowledged: Instant::now() }))
            };
            let headline = "mutation($h: String!) { updateProfile(input: { headline: $h }) { id } }";
            at[1] = Some(timed(headline, json!({ "h": format!("Headline {user}") })).await?.1);
            let create = "mutation($c: String!) { createApplication(input: { company: $c, position: \"Engineer\", status: APPLIED }) { id } }";
            let (created, moment) = timed(create, json!({ "c": format!("Company {user}") })).await?;
            at[0] = Some(moment);
            let change = "mutation($id: ID!) { changeApplicationStatus(id: $id, status: INTERVIEW) { id } }";
            at[2] = Some(timed(change, json!({ "id": created["createApplication"]["id"] })).await?.1);
            Some(at)
        }));
    }
    for (user, change) in changes.into_iter().enumerate() {
        if let Ok(Some(at)) = change.await {
            moments[user] = at;
        }
    }
    cpu_before.print_since("mutations");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after: HashMap<String, (u64, u64)> = measured(&crowd.pids);

    // Per subscription: a push arriving before its mutation's answer counts 0 ms.
    let mut kinds: Vec<Outcome> = SUBSCRIPTIONS.iter().map(|query| Outcome::new(query)).collect();
    let mut foreign = 0;
    for (user, tab_index, seen) in &tabs {
        let seen = seen.lock().await;
        if !seen.acknowledged {
            continue;
        }
        let outcome = &mut kinds[tab_index % 3];
        let Some(moment) = moments[*user][tab_index % 3] else {
            outcome.unchanged += 1;
            continue;
        };
        let own = [format!("Company {user}\""), format!("Headline {user}\""), format!("Company {user} ")];
        let theirs = |text: &str| {
            !own.iter().any(|m| text.contains(m.as_str())) && (text.contains("Company ") || text.contains("Headline "))
        };
        foreign += seen.pushes.iter().filter(|(_, text)| theirs(text)).count();
        match seen.pushes.iter().find(|(at, text)| *at >= moment.sent && own.iter().any(|m| text.contains(m.as_str())))
        {
            Some((at, _)) => {
                outcome.early += usize::from(*at < moment.acknowledged);
                outcome.latency.millis.push(at.saturating_duration_since(moment.acknowledged).as_secs_f64() * 1000.0);
                outcome.from_sent.millis.push(at.duration_since(moment.sent).as_secs_f64() * 1000.0);
            }
            None => outcome.lost += 1,
        }
    }
    let pushed: usize = kinds.iter().map(|k| k.latency.millis.len()).sum();
    let lost: usize = kinds.iter().map(|k| k.lost).sum();
    let all = Sample { name: "all".into(), millis: kinds.iter().flat_map(|k| k.latency.millis.clone()).collect() };
    println!("{pushed} tabs got their push, {lost} did not, {foreign} pushes carried another user's data");
    if !all.millis.is_empty() {
        println!(
            "push latency (mutation acknowledged → push received) p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            all.percentile(0.5),
            all.percentile(0.99),
            all.percentile(1.0)
        );
    }
    for kind in &kinds {
        kind.print();
    }
    let ticks_per_second = 100.0;
    for name in before.keys() {
        let (Some(b), Some(h), Some(a)) = (before.get(name), held.get(name), after.get(name)) else { continue };
        let per_subscription = (h.0.saturating_sub(b.0) as f64) / accepted.max(1) as f64;
        let cpu = (a.1.saturating_sub(b.1)) as f64 / ticks_per_second;
        println!(
            "{name}: RSS {} → {} MiB ({per_subscription:.1} KiB per tab), CPU {cpu:.1} s over the run",
            b.0 / 1024,
            h.0 / 1024
        );
    }
    Ok(())
}

fn measured(pids: &[String]) -> HashMap<String, (u64, u64)> {
    pids.iter()
        .filter_map(|entry| entry.split_once('='))
        .filter_map(|(name, pid)| usage(pid).map(|u| (name.to_string(), u)))
        .collect()
}
