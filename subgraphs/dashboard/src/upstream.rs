//! The dashboard is composed by synchronous calls to applications and
//! interviews, made on the caller's behalf with the caller's own token: those
//! subgraphs' privacy rules decide what the dashboard sees.

use chrono::{DateTime, Utc};
use jobtracker_kit::graphql::SubgraphClient;
use jobtracker_kit::{AppError, AppResult};
use serde_json::{Value, json};

#[derive(Clone)]
pub struct Upstream {
    applications: SubgraphClient,
    interviews: SubgraphClient,
}

impl Upstream {
    pub fn new(applications_url: &str, interviews_url: &str, timeout: std::time::Duration) -> Self {
        Self {
            applications: SubgraphClient::new(applications_url, timeout),
            interviews: SubgraphClient::new(interviews_url, timeout),
        }
    }

    async fn query(&self, subgraph: &SubgraphClient, token: &str, query: &str, variables: Value) -> AppResult<Value> {
        match subgraph.query(token, query, variables).await? {
            Ok(data) => Ok(data),
            Err(code) if code == "UNAUTHENTICATED" => {
                Err(AppError::Unauthenticated("the session expired; sign in again".into()))
            }
            Err(code) => Err(AppError::internal(anyhow::anyhow!("a subgraph answered {code}"))),
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
