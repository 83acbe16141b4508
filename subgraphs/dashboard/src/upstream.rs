//! The dashboard is composed by synchronous calls to applications and
//! interviews, made on the caller's behalf with the caller's own token: those
//! subgraphs' privacy rules decide what the dashboard sees.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jobtracker_kit::{AppError, AppResult};
use serde_json::{Value, json};

#[derive(Clone)]
pub struct Upstream {
    applications: String,
    interviews: String,
    http: reqwest::Client,
}

impl Upstream {
    pub fn new(applications_url: &str, interviews_url: &str) -> Self {
        let graphql = |base: &str| format!("{}/graphql", base.trim_end_matches('/'));
        Self {
            applications: graphql(applications_url),
            interviews: graphql(interviews_url),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("static HTTP client configuration"),
        }
    }

    async fn query(&self, url: &str, token: &str, query: &str, variables: Value) -> AppResult<Value> {
        let body: Value = self
            .http
            .post(url)
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(AppError::internal)?
            .json()
            .await
            .map_err(AppError::internal)?;
        match body["errors"][0]["extensions"]["code"].as_str() {
            None if body["data"].is_object() => Ok(body["data"].clone()),
            Some("UNAUTHENTICATED") => Err(AppError::Unauthenticated("the session expired; sign in again".into())),
            _ => Err(AppError::internal(anyhow::anyhow!("{url} answered {body}"))),
        }
    }

    /// Applications in APPLIED, INTERVIEW or OFFER.
    pub async fn in_progress_count(&self, token: &str) -> AppResult<i64> {
        let query = "{ applications(filter: { status: [APPLIED, INTERVIEW, OFFER] }, first: 0) { totalCount } }";
        let data = self.query(&self.applications, token, query, json!({})).await?;
        Ok(data["applications"]["totalCount"].as_i64().unwrap_or_default())
    }

    /// Ids of the newest applications.
    pub async fn recent_applications(&self, token: &str, limit: i32) -> AppResult<Vec<String>> {
        let query = "query($n: Int) { applications(orderBy: NEWEST, first: $n) { edges { node { id } } } }";
        let data = self.query(&self.applications, token, query, json!({ "n": limit })).await?;
        Ok(ids(&data["applications"]))
    }

    /// Ids of the next interviews that are not cancelled, soonest first.
    pub async fn upcoming_interviews(&self, token: &str, limit: i32, now: DateTime<Utc>) -> AppResult<Vec<String>> {
        let query = "query($n: Int, $from: DateTime) { interviews(filter: { from: $from }, first: $n) { edges { node { id } } } }";
        let data = self.query(&self.interviews, token, query, json!({ "n": limit, "from": now.to_rfc3339() })).await?;
        Ok(ids(&data["interviews"]))
    }
}

fn ids(connection: &Value) -> Vec<String> {
    connection["edges"].as_array().map_or_else(Vec::new, |edges| {
        edges.iter().filter_map(|e| e["node"]["id"].as_str().map(str::to_owned)).collect()
    })
}
