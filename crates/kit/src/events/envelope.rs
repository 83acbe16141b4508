//! The envelope every event travels in. Consumers need nothing else: the
//! payload is complete enough that no one calls the publisher back.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::{HandlerError, HandlerResult};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// UUIDv7: unique, and sortable by creation time.
    pub id: Uuid,
    /// Past-tense fact, also the routing key: `user.registered`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Schema version of `payload`.
    pub version: i32,
    pub occurred_at: DateTime<Utc>,
    /// Owner of the data; consumers partition read models by it.
    pub user_id: Uuid,
    pub aggregate_id: Uuid,
    /// Increases with every change of the aggregate; consumers drop stale events.
    pub aggregate_version: i64,
    pub payload: serde_json::Value,
}

impl Envelope {
    pub fn new(
        event_type: &str,
        user_id: Uuid,
        aggregate_id: Uuid,
        aggregate_version: i64,
        payload: &impl Serialize,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            event_type: event_type.to_string(),
            version: 1,
            occurred_at: Utc::now(),
            user_id,
            aggregate_id,
            aggregate_version,
            payload: serde_json::to_value(payload).expect("event payloads are plain data"),
        }
    }

    /// The same event under another payload schema version.
    pub fn with_version(self, version: i32) -> Self {
        Self { version, ..self }
    }

    /// The payload as `T`; one that does not decode never will (permanent).
    pub fn payload<T: DeserializeOwned>(&self) -> HandlerResult<T> {
        serde_json::from_value(self.payload.clone()).map_err(|err| {
            HandlerError::permanent(anyhow::anyhow!("event {} ({}) has a bad payload: {err}", self.id, self.event_type))
        })
    }
}
