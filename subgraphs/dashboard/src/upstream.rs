//! The dashboard is composed by synchronous calls to applications and
//! interviews, made on the caller's behalf with the caller's own token: those
//! subgraphs' privacy rules decide what the dashboard sees.

use chrono::{DateTime, Utc};
use jobtracker_kit::AppResult;
use jobtracker_kit::graphql::SubgraphClient;
use serde::Deserialize;
use serde_json::json;

#[derive(Clone)]
pub struct Upstream {
    applications: SubgraphClient,
    interviews: SubgraphClient,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Counted {
    total_count: i64,
}

#[derive(Deserialize)]
struct Connection {
    edges: Vec<Edge>,
}

#[derive(Deserialize)]
struct Edge {
    node: Node,
}

#[derive(Deserialize)]
struct Node {
    id: String,
}

impl Connection {
    fn ids(self) -> Vec<String> {
        self.edges.into_iter().map(|edge| edge.node.id).collect()
    }
}

#[derive(Deserialize)]
struct Applications<T> {
    applications: T,
}

#[derive(Deserialize)]
struct Interviews<T> {
    interviews: T,
}

impl Upstream {
    pub fn new(applications_url: &str, interviews_url: &str, timeout: std::time::Duration) -> Self {
        Self {
            applications: SubgraphClient::new(applications_url, timeout),
            interviews: SubgraphClient::new(interviews_url, timeout),
        }
    }

    /// Applications in APPLIED, INTERVIEW or OFFER.
    pub async fn in_progress_count(&self, token: &str) -> AppResult<i64> {
        let query = "{ applications(filter: { status: [APPLIED, INTERVIEW, OFFER] }, first: 0) { totalCount } }";
        let data: Applications<Counted> = self.applications.query(token, query, json!({})).await?;
        Ok(data.applications.total_count)
    }

    /// Ids of the newest applications.
    pub async fn recent_applications(&self, token: &str, limit: i32) -> AppResult<Vec<String>> {
        let query = "query($n: Int) { applications(orderBy: NEWEST, first: $n) { edges { node { id } } } }";
        let data: Applications<Connection> = self.applications.query(token, query, json!({ "n": limit })).await?;
        Ok(data.applications.ids())
    }

    /// Ids of the next interviews that are not cancelled, soonest first.
    pub async fn upcoming_interviews(&self, token: &str, limit: i32, now: DateTime<Utc>) -> AppResult<Vec<String>> {
        let query = "query($n: Int, $from: DateTime) { interviews(filter: { from: $from }, first: $n) { edges { node { id } } } }";
        let variables = json!({ "n": limit, "from": now.to_rfc3339() });
        let data: Interviews<Connection> = self.interviews.query(token, query, variables).await?;
        Ok(data.interviews.ids())
    }
}
