//! Event types and their payloads: the contract between publishers and
//! consumers. Payloads only grow (new optional fields); a breaking change
//! bumps the envelope `version`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const USER_REGISTERED: &str = "user.registered";
pub const USER_UPDATED: &str = "user.updated";

/// auth → a new account exists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRegistered {
    pub user_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub registered_at: DateTime<Utc>,
}

/// users → a public profile changed; carries the whole profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserUpdated {
    pub user_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub phone: Option<String>,
    pub location: Option<String>,
    pub headline: Option<String>,
    pub skills: Vec<String>,
    pub updated_at: DateTime<Utc>,
}
