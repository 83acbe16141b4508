use std::path::Path;
use std::time::Duration;

use prometheus_parse::{Sample, Scrape, Value};
use serde_json::json;

use jobtracker_testkit::{Account, Gql, RouterOptions, RouterProcess, Stack};

pub struct System {
    pub stack: Stack,
    pub router: RouterProcess,
    /// The router's /graphql, anonymous.
    pub gql: Gql,
}

pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_jobtracker"))
}

impl System {
    pub async fn start() -> Self {
        Self::start_with(RouterOptions::default()).await
    }

    pub async fn start_with(options: RouterOptions) -> Self {
        Self::start_with_vars(options, &[]).await
    }

    /// Every service also reading `vars` (e.g. the files service on S3).
    pub async fn start_with_vars(options: RouterOptions, vars: &[(String, String)]) -> Self {
        let stack = Stack::start_with(jobtracker_services::SERVICES, vars).await;
        let router = RouterProcess::start(binary(), &stack, options).await;
        let gql = Gql::new(router.graphql_url());
        Self { stack, router, gql }
    }

    pub async fn sign_up(&self, name: &str) -> (Account, Gql) {
        let account = Account::register(&self.gql, name).await;
        let client = self.gql.with_token(&account.access_token);
        (account, client)
    }
}

/// A router reading `env` besides the test's own variables.
pub fn options(env: &[(&str, &str)]) -> RouterOptions {
    RouterOptions { env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), ..Default::default() }
}

/// The `connection_init` payload of a WebSocket client holding `token`.
pub fn bearer(token: &str) -> serde_json::Value {
    json!({ "Authorization": format!("Bearer {token}") })
}

/// A service's or the router's `/metrics`, parsed.
pub async fn scrape(url: &str) -> Scrape {
    let response = reqwest::get(format!("{url}/metrics")).await.expect("metrics endpoint answers");
    assert_eq!(response.status(), 200, "{url}/metrics");
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/plain"), "{url}: {content_type}");
    let text = response.text().await.unwrap();
    Scrape::parse(text.lines().map(|line| Ok(line.to_string()))).unwrap_or_else(|err| panic!("{url}: {err}\n{text}"))
}

fn value(sample: &Sample) -> f64 {
    match &sample.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
        Value::Summary(_) => 0.0,
    }
}

/// The summed value of `metric`'s samples whose labels include `labels`.
pub fn total(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let matching: Vec<&Sample> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect();
    (!matching.is_empty()).then(|| matching.iter().map(|s| value(s)).sum())
}

/// Polls `check` every 100 ms for up to `seconds`; whether it came to hold
/// (consumers, relays and samplers work asynchronously).
pub async fn eventually<F: AsyncFn() -> bool>(seconds: u64, check: F) -> bool {
    for _ in 0..seconds * 10 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
