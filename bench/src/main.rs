//! Latency benchmarks, each against a baseline measured in the same run:
//!
//! - `applications`: list queries through the router, straight to the
//!   applications subgraph, and the same SQL on PostgreSQL (the floor);
//! - `analytics`: the analytics query (read models) against the same numbers
//!   aggregated by SQL over the raw application rows;
//! - `push-latency`: a dashboard subscription through the router while
//!   another connection makes mutations at a fixed rate: time from each
//!   mutation's response to the next push;
//! - `contacts`: `contacts(search:)` at many contacts against the same SQL;
//! - `files`: 10 MiB résumé PUT/GET through their URLs against curl straight
//!   to the S3 server;
//! - `reminders`: 10 000 reminders due at once, one replica against two;
//! - `crowd`: thousands of live tabs on one router, each push timed.

mod contacts;
mod crowd;
mod files;
mod lists;
mod push;
mod reminders;
mod search;

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use uuid::Uuid;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
pub struct Login {
    /// The router's /graphql.
    #[arg(long)]
    pub router: String,
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub password: String,
}

#[derive(Subcommand)]
enum Command {
    /// Applications list queries for a seeded user.
    Applications(ListTarget),
    /// The analytics query against SQL aggregation over the raw rows.
    Analytics {
        #[command(flatten)]
        login: Login,
        /// The applications database (for the SQL baseline).
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 300)]
        requests: usize,
    },
    /// contacts(search:) for a user given `contacts` contacts (inserted
    /// into the contacts database).
    Contacts {
        #[command(flatten)]
        target: ListTarget,
        #[arg(long, default_value_t = 100_000)]
        contacts: i32,
    },
    /// Résumé upload/download throughput on one backend.
    Files {
        #[command(flatten)]
        login: Login,
        /// The files subgraph's /graphql (of the backend measured).
        #[arg(long)]
        files: String,
        #[arg(long)]
        backend: String,
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        #[command(flatten)]
        baseline: files::S3Baseline,
    },
    /// Reminders due at once: sent per second, duplicates, lateness.
    Reminders {
        #[command(flatten)]
        login: Login,
        /// The notifications database.
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 10_000)]
        count: i32,
        #[arg(long)]
        label: String,
    },
    /// Mutation acknowledged → dashboardUpdated received.
    /// Seeds 1 000 000 searchable documents with their outbox events.
    SearchSeed(search::SeedTargets),
    /// Search latency through the router, the subgraph and the backend, and freshness.
    Search(search::MeasureTargets),
    /// Thousands of subscribed tabs on one router; each one's push timed.
    Crowd(crowd::Crowd),
    PushLatency {
        #[command(flatten)]
        login: Login,
        #[arg(long, default_value_t = 50)]
        rate: u32,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
}

/// A `count(*) AS total` row.
#[derive(diesel::QueryableByName)]
pub struct Total {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub total: i64,
}

/// A list query measured three ways: the router, the subgraph straight,
/// and the SQL it issues.
#[derive(clap::Args)]
pub struct ListTarget {
    #[command(flatten)]
    pub login: Login,
    /// The subgraph's /graphql.
    #[arg(long)]
    pub subgraph: String,
    /// Its database (for the SQL floor).
    #[arg(long)]
    pub database_url: String,
    #[arg(long, default_value_t = 300)]
    pub requests: usize,
}

/// Latencies of one measured operation.
pub struct Sample {
    pub name: String,
    pub millis: Vec<f64>,
}

impl Sample {
    pub fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.millis.clone();
        sorted.sort_by(f64::total_cmp);
        sorted[((sorted.len() - 1) as f64 * p).round() as usize]
    }
}

/// Runs `op` sequentially after a warm-up and records each latency.
pub async fn measure<F, Fut>(name: &str, requests: usize, mut op: F) -> anyhow::Result<Sample>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    for _ in 0..requests / 10 + 5 {
        op().await?;
    }
    let mut millis = Vec::with_capacity(requests);
    for _ in 0..requests {
        let started = Instant::now();
        op().await?;
        millis.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(Sample { name: name.to_string(), millis })
}

/// Prints samples as a table, each group's ratio against its last sample.
pub fn report(groups: &[Vec<Sample>]) {
    println!("\n| measurement | p50 ms | p99 ms | p50 / baseline |");
    println!("|---|---|---|---|");
    for group in groups {
        let baseline = group.last().expect("a baseline").percentile(0.5);
        for sample in group {
            println!(
                "| {} | {:.2} | {:.2} | {:.3}x |",
                sample.name,
                sample.percentile(0.5),
                sample.percentile(0.99),
                sample.percentile(0.5) / baseline
            );
        }
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("static HTTP client configuration")
}

pub async fn graphql(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    let body: Value = http
        .post(url)
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(body.get("errors").is_none(), "errors from {url}: {body}");
    Ok(body["data"].clone())
}

/// Signs in through the router: (access token, user id).
pub async fn login(http: &reqwest::Client, login: &Login) -> anyhow::Result<(String, Uuid)> {
    let query = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken user { id } } }";
    let body: Value = http
        .post(&login.router)
        .json(&json!({ "query": query, "variables": { "e": login.email, "p": login.password } }))
        .send()
        .await?
        .json()
        .await?;
    let token =
        body["data"]["login"]["accessToken"].as_str().with_context(|| format!("login failed: {body}"))?.to_string();
    let user = Uuid::parse_str(body["data"]["login"]["user"]["id"].as_str().context("no user id")?)?;
    Ok((token, user))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Applications(target) => lists::applications(&target).await,
        Command::Analytics { login, database_url, requests } => lists::analytics(&login, &database_url, requests).await,
        Command::SearchSeed(targets) => search::seed(&targets).await,
        Command::Search(targets) => search::run(&targets).await,
        Command::Crowd(crowd) => crowd::run(crowd).await,
        Command::PushLatency { login, rate, seconds } => push::latency(&login, rate, seconds).await,
        Command::Contacts { target, contacts } => contacts::search(&target, contacts).await,
        Command::Reminders { login, database_url, count, label } => {
            reminders::due_at_once(&login, &database_url, count, &label).await
        }
        Command::Files { login, files, backend, rounds, baseline } => {
            files::throughput(&login, &files, &backend, rounds, &baseline).await
        }
    }
}
