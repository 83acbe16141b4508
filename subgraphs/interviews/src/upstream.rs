//! interviews' calls to other subgraphs: a linked application is checked by
//! asking the applications subgraph on the caller's behalf, so applications'
//! own privacy rules decide (another user's application is NOT_FOUND there).

use jobtracker_kit::graphql::SubgraphClient;
use jobtracker_kit::{AppResult, ErrorCode};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// What scheduling needs from a linked application.
#[derive(Debug, Deserialize)]
pub struct LinkedApplication {
    pub company: String,
    pub position: String,
}

#[derive(Deserialize)]
struct ApplicationData {
    application: LinkedApplication,
}

#[derive(Clone)]
pub struct ApplicationsClient(SubgraphClient);

impl ApplicationsClient {
    pub fn new(base_url: &str, timeout: std::time::Duration) -> Self {
        Self(SubgraphClient::new(base_url, timeout))
    }

    /// The caller's application, or `None` when it is missing or not theirs.
    pub async fn application(&self, token: &str, id: Uuid) -> AppResult<Option<LinkedApplication>> {
        let query = "query($id: ID!) { application(id: $id) { company position } }";
        match self.0.query::<ApplicationData>(token, query, json!({ "id": id })).await {
            Ok(data) => Ok(Some(data.application)),
            Err(err) if err.code() == ErrorCode::NotFound => Ok(None),
            Err(err) => Err(err.into()),
        }
    }
}
