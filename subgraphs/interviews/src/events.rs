//! What interviews consumes (`application.deleted`: its interviews go too)
//! and how it checks a linked application: by asking the applications
//! subgraph on the caller's behalf, so applications' own privacy rules
//! decide (another user's application is NOT_FOUND there).

use async_trait::async_trait;
use diesel_async::AsyncPgConnection;
use jobtracker_kit::events::contracts::{APPLICATION_DELETED, ApplicationDeleted};
use jobtracker_kit::events::{Envelope, EventHandler, HandlerResult};
use jobtracker_kit::graphql::SubgraphClient;
use jobtracker_kit::{AppError, AppResult};
use serde_json::json;
use uuid::Uuid;

use crate::store::{self, Store};

pub struct ApplicationDeletionHandler {
    pub store: Store,
}

#[async_trait]
impl EventHandler for ApplicationDeletionHandler {
    async fn handle(&self, conn: &mut AsyncPgConnection, event: &Envelope) -> HandlerResult {
        if event.event_type != APPLICATION_DELETED {
            return Ok(());
        }
        let deleted: ApplicationDeleted = event.payload()?;
        let removed = store::delete_for_application(conn, event.user_id, deleted.application.application_id).await?;
        tracing::info!(application_id = %deleted.application.application_id, removed, "interviews of a deleted application removed");
        Ok(())
    }

    fn committed(&self) {
        self.store.wake_relay();
    }
}

/// What scheduling needs from a linked application.
pub struct LinkedApplication {
    pub company: String,
    pub position: String,
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
        match self.0.query(token, query, json!({ "id": id })).await? {
            Ok(data) => match data["application"].as_object() {
                Some(application) => Ok(Some(LinkedApplication {
                    company: application["company"].as_str().unwrap_or_default().to_string(),
                    position: application["position"].as_str().unwrap_or_default().to_string(),
                })),
                None => Err(AppError::internal(anyhow::anyhow!("applications answered {data} without an error"))),
            },
            Err(code) if code == "NOT_FOUND" => Ok(None),
            Err(code) => Err(AppError::internal(anyhow::anyhow!("applications answered {code}"))),
        }
    }
}
