//! What users consumes (`user.registered`: create the profile) and the
//! read-your-writes fallback for a profile whose event has not arrived yet.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use jobtracker_kit::events::contracts::{USER_REGISTERED, UserRegistered};
use jobtracker_kit::events::{Envelope, EventHandler, HandlerResult};
use jobtracker_kit::service_token::{self, ServiceToken};
use jobtracker_kit::{AppError, AppResult};
use serde::Deserialize;
use uuid::Uuid;

use crate::model::Profile;
use crate::store::{self, NewProfile, Store};

/// Creates the profile of every new account.
pub struct RegistrationHandler;

#[async_trait]
impl EventHandler for RegistrationHandler {
    async fn handle(&self, conn: &mut AsyncPgConnection, event: &Envelope) -> HandlerResult {
        if event.event_type != USER_REGISTERED {
            return Ok(());
        }
        let registered: UserRegistered = event.payload()?;
        store::insert_if_missing(
            conn,
            &NewProfile {
                id: registered.user_id,
                email: registered.email,
                full_name: registered.full_name,
                created_at: registered.registered_at,
            },
        )
        .await?;
        Ok(())
    }
}

/// auth's internal account lookup, for a profile asked for between
/// `register` returning and `user.registered` being consumed. Authenticated
/// with the shared `SERVICE_TOKEN`.
#[derive(Clone)]
pub struct AccountsClient {
    base_url: String,
    http: reqwest::Client,
    token: Option<ServiceToken>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Account {
    id: Uuid,
    email: String,
    full_name: String,
    created_at: DateTime<Utc>,
}

impl AccountsClient {
    pub fn new(base_url: &str, token: Option<ServiceToken>) -> anyhow::Result<Self> {
        if token.is_none() {
            tracing::warn!(
                "{} is not set: auth will refuse the account lookup, and a profile asked for before its \
                 user.registered event arrives fails",
                service_token::ENV
            );
        }
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder().timeout(Duration::from_secs(3)).build()?,
            token,
        })
    }

    /// The profile, creating it from auth's account when this service has
    /// not heard of it yet; `None` when no such account exists.
    pub async fn profile_or_fetch(&self, store: &Store, id: Uuid) -> AppResult<Option<Profile>> {
        if let Some(profile) = store.get(id).await? {
            return Ok(Some(profile));
        }
        let mut request = self.http.get(format!("{}/internal/accounts/{id}", self.base_url));
        if let Some(token) = &self.token {
            request = request.header(service_token::HEADER, token.expose());
        }
        let response = request.send().await.map_err(AppError::internal)?;
        match response.status() {
            reqwest::StatusCode::NOT_FOUND => return Ok(None),
            status @ (reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN) => {
                return Err(AppError::internal(anyhow::anyhow!(
                    "auth refused the internal account lookup ({status}): users and auth need the same {}",
                    service_token::ENV
                )));
            }
            _ => {}
        }
        let account: Account =
            response.error_for_status().map_err(AppError::internal)?.json().await.map_err(AppError::internal)?;
        tracing::debug!(user_id = %id, "profile created ahead of its registration event");
        let new = NewProfile {
            id: account.id,
            email: account.email,
            full_name: account.full_name,
            created_at: account.created_at,
        };
        store.ensure(&new).await.map(Some)
    }
}
