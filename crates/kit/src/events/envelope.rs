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
    /// The W3C trace context of the request or event that caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
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
            // checked: contract structs have string keys and no custom Serialize, so this cannot fail.
            payload: serde_json::to_value(payload).expect("event payloads are plain data"),
            traceparent: crate::trace::current().map(|context| context.header()),
        }
    }

    /// The same event under another payload schema version.
    pub fn with_version(self, version: i32) -> Self {
        Self { version, ..self }
    }

    /// For an event whose type starts with `prefix` and whose payload
    /// version is newer than the `known` one of `reader`: a permanent error
    /// (dead-lettered until the reader learns it, then replayed).
    pub fn ensure_known_version(&self, prefix: &str, known: i32, reader: &str) -> HandlerResult<()> {
        if self.event_type.starts_with(prefix) && self.version > known {
            return Err(HandlerError::permanent(anyhow::anyhow!(
                "event {} is {} version {}, {reader} reads up to {known}",
                self.id,
                self.event_type,
                self.version
            )));
        }
        Ok(())
    }

    /// The payload as `T`; one that does not decode never will (permanent).
    pub fn payload<T: DeserializeOwned>(&self) -> HandlerResult<T> {
        serde_json::from_value(self.payload.clone()).map_err(|err| {
            HandlerError::permanent(anyhow::anyhow!("event {} ({}) has a bad payload: {err}", self.id, self.event_type))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::contracts::{INTERVIEW_UPDATED, InterviewChanged};

    #[test]
    fn a_payload_with_an_unknown_enum_value_is_a_permanent_error_naming_it() {
        let id = Uuid::now_v7();
        let payload = serde_json::json!({
            "interview": {
                "interviewId": id, "ownerId": id, "applicationId": null, "company": "Acme", "position": "Engineer",
                "scheduledAt": "2026-01-08T09:00:00Z", "timeZone": "UTC", "durationMinutes": null,
                "interviewType": "VIDEO", "details": null, "cancelled": false,
                "createdAt": "2026-01-06T12:00:00Z", "updatedAt": "2026-01-06T12:00:00Z"
            },
            "previousScheduledAt": null
        });
        let event = Envelope::new(INTERVIEW_UPDATED, id, id, 2, &payload);
        let err = event.payload::<InterviewChanged>().unwrap_err();
        assert!(err.is_permanent());
        assert!(err.to_string().contains("unknown variant `VIDEO`"), "{err}");
    }
}
