//! `jobtracker-bench applications`: p50/p99 latency of list queries through
//! the router, straight to the applications subgraph, and of the same SQL
//! straight on PostgreSQL (the floor), measured in one run, one client,
//! sequential requests after a warm-up.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};
use uuid::Uuid;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Applications list queries for a seeded user.
    Applications {
        #[arg(long)]
        router: String,
        #[arg(long)]
        subgraph: String,
        /// The applications database (for the SQL floor).
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long, default_value_t = 300)]
        requests: usize,
    },
}

/// Latencies of one measured operation.
struct Sample {
    name: String,
    millis: Vec<f64>,
}

impl Sample {
    fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.millis.clone();
        sorted.sort_by(f64::total_cmp);
        sorted[((sorted.len() - 1) as f64 * p).round() as usize]
    }
}

async fn measure<F, Fut>(name: &str, requests: usize, mut op: F) -> anyhow::Result<Sample>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    for _ in 0..requests / 10 + 5 {
        op().await?; // warm-up: connections, plans, caches
    }
    let mut millis = Vec::with_capacity(requests);
    for _ in 0..requests {
        let started = Instant::now();
        op().await?;
        millis.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(Sample { name: name.to_string(), millis })
}

async fn graphql(http: &reqwest::Client, url: &str, token: &str, query: &str) -> anyhow::Result<Value> {
    let body: Value = http.post(url).bearer_auth(token).json(&json!({ "query": query })).send().await?.json().await?;
    anyhow::ensure!(body.get("errors").is_none(), "errors from {url}: {body}");
    Ok(body)
}

#[derive(diesel::QueryableByName)]
struct Total {
    #[diesel(sql_type = BigInt)]
    total: i64,
}

#[derive(diesel::QueryableByName)]
#[allow(dead_code)]
struct Row {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    company: String,
}

/// The page and the count the applications store issues, as plain SQL.
async fn sql_floor(
    conn: &mut AsyncPgConnection,
    owner: Uuid,
    condition: &str,
    pattern: Option<&str>,
) -> anyhow::Result<()> {
    let page = format!(
        "SELECT id, company FROM applications WHERE owner_id = $1 AND {condition} ORDER BY created_at DESC, id DESC LIMIT 21"
    );
    let count = format!("SELECT count(*) AS total FROM applications WHERE owner_id = $1 AND {condition}");
    let value = pattern.unwrap_or("APPLIED").to_string();
    let rows: Vec<Row> = diesel::sql_query(page).bind::<SqlUuid, _>(owner).bind::<Text, _>(&value).load(conn).await?;
    let total: Total =
        diesel::sql_query(count).bind::<SqlUuid, _>(owner).bind::<Text, _>(&value).get_result(conn).await?;
    anyhow::ensure!(!rows.is_empty() && total.total > 0, "the seeded user has no matching rows");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Command::Applications { router, subgraph, database_url, email, password, requests } = Cli::parse().command;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let login = format!(
        "mutation {{ login(email: {}, password: {}) {{ accessToken user {{ id }} }} }}",
        json!(email),
        json!(password)
    );
    let session: Value = http.post(&router).json(&json!({ "query": login })).send().await?.json().await?;
    let token = session["data"]["login"]["accessToken"].as_str().context("login failed")?.to_string();
    let owner = Uuid::parse_str(session["data"]["login"]["user"]["id"].as_str().context("no user id")?)?;
    let mut conn = AsyncPgConnection::establish(&database_url).await?;
    // Fresh statistics and visibility map, as autovacuum keeps them after a
    // bulk load; measuring before it has run would time the wrong plans.
    diesel::sql_query("VACUUM ANALYZE applications").execute(&mut conn).await?;
    let total: Total = diesel::sql_query("SELECT count(*) AS total FROM applications WHERE owner_id = $1")
        .bind::<SqlUuid, _>(owner)
        .get_result(&mut conn)
        .await?;

    let search = "{ applications(filter: { search: \"engineer\" }, first: 20) { totalCount edges { cursor node { id company position status } } } }";
    let status = "{ applications(filter: { status: [APPLIED] }) { totalCount edges { cursor node { id company position status } } } }";
    let matches = graphql(&http, &router, &token, search).await?["data"]["applications"]["totalCount"].clone();
    println!("user {owner}: {} applications; \"engineer\" matches {matches}", total.total);

    let mut samples = Vec::new();
    for (label, query, condition, pattern) in [
        ("search \"engineer\", first 20", search, "search_text LIKE $2", Some("%engineer%")),
        ("status [APPLIED], first 20", status, "status = $2", None),
    ] {
        samples.push(
            measure(&format!("{label}: router"), requests, || async {
                graphql(&http, &router, &token, query).await.map(drop)
            })
            .await?,
        );
        samples.push(
            measure(&format!("{label}: subgraph"), requests, || async {
                graphql(&http, &subgraph, &token, query).await.map(drop)
            })
            .await?,
        );
        let mut floor = Vec::new();
        for _ in 0..requests / 10 + 5 {
            sql_floor(&mut conn, owner, condition, pattern).await?;
        }
        for _ in 0..requests {
            let started = Instant::now();
            sql_floor(&mut conn, owner, condition, pattern).await?;
            floor.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        samples.push(Sample { name: format!("{label}: SQL floor"), millis: floor });
    }

    println!("\n| query | p50 ms | p99 ms | p50 / SQL floor |");
    println!("|---|---|---|---|");
    for group in samples.chunks(3) {
        let floor = group[2].percentile(0.5);
        for sample in group {
            println!(
                "| {} | {:.2} | {:.2} | {:.1}x |",
                sample.name,
                sample.percentile(0.5),
                sample.percentile(0.99),
                sample.percentile(0.5) / floor
            );
        }
    }
    Ok(())
}
