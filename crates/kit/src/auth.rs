//! Identity: the claims of our access tokens and their verification.
//!
//! The auth service signs EdDSA (Ed25519) JWTs and publishes the public keys
//! as JWKS. Every other service verifies tokens with those public keys alone,
//! caching them and refetching only when it meets an unknown key id.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};
use uuid::Uuid;

use crate::error::AppError;

pub const ISSUER: &str = "jobtracker";
pub const AUDIENCE: &str = "jobtracker";

/// The caller of a request, proven by a verified access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: Uuid,
    /// When the token proving it expires (Unix seconds): long-lived
    /// subscriptions end then, and the client reconnects with a fresh token.
    pub expires_at: i64,
}

/// Claims inside an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// Extracts the token from an `Authorization: Bearer …` value.
pub fn bearer_token(header_value: &str) -> Option<&str> {
    let (scheme, token) = header_value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Where verification keys come from: the auth service's own store, or a
/// remote JWKS document.
#[async_trait]
pub trait KeySource: Send + Sync + 'static {
    async fn key(&self, kid: &str) -> Option<DecodingKey>;
}

#[derive(Clone)]
pub struct TokenVerifier {
    keys: Arc<dyn KeySource>,
}

impl TokenVerifier {
    pub fn new(keys: impl KeySource) -> Self {
        Self { keys: Arc::new(keys) }
    }

    /// Verifies with keys the caller keeps a handle on too.
    pub fn shared(keys: Arc<dyn KeySource>) -> Self {
        Self { keys }
    }

    pub fn remote(jwks_url: impl Into<String>) -> Self {
        Self::new(RemoteJwks::new(jwks_url))
    }

    /// Verifies with the JWKS document of the auth service at `auth_url`.
    pub fn for_auth_service(auth_url: &str) -> Self {
        Self::remote(format!("{}/.well-known/jwks.json", auth_url.trim_end_matches('/')))
    }

    /// Verifies signature, algorithm (EdDSA only: `alg: none` and HMAC
    /// confusion are refused), issuer, audience and expiry.
    pub async fn verify(&self, token: &str) -> Result<Viewer, AppError> {
        let invalid = || AppError::Unauthenticated("invalid or expired access token".into());
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        if header.alg != Algorithm::EdDSA {
            return Err(invalid());
        }
        let kid = header.kid.ok_or_else(invalid)?;
        let key = self.keys.key(&kid).await.ok_or_else(invalid)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|err| {
            tracing::debug!(error = %err, "access token refused");
            invalid()
        })?;
        let user_id = Uuid::parse_str(&data.claims.sub).map_err(|_| invalid())?;
        Ok(Viewer { user_id, expires_at: data.claims.exp })
    }
}

/// A JWKS document fetched over HTTP and cached by key id. An unknown kid
/// triggers a refetch, at most once per `min_refresh_interval`, so a flood of
/// forged kids cannot turn into a flood of requests to the auth service.
pub struct RemoteJwks {
    url: String,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, DecodingKey>>,
    last_fetch: Mutex<Option<Instant>>,
    min_refresh_interval: Duration,
}

impl RemoteJwks {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                // checked: a fixed builder configuration, no input reaches it.
                .expect("static HTTP client configuration"),
            keys: RwLock::default(),
            last_fetch: Mutex::default(),
            min_refresh_interval: Duration::from_secs(10),
        }
    }

    async fn refresh(&self) {
        let mut last_fetch = self.last_fetch.lock().await;
        let recently = last_fetch.is_some_and(|at| at.elapsed() < self.min_refresh_interval);
        if recently && !self.keys.read().await.is_empty() {
            return;
        }
        *last_fetch = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => *self.keys.write().await = keys,
            Err(err) => tracing::warn!(url = %self.url, error = format!("{err:#}"), "fetching JWKS failed"),
        }
    }

    async fn fetch(&self) -> anyhow::Result<HashMap<String, DecodingKey>> {
        fetch_jwks(&self.http, &self.url).await
    }
}

/// The verification keys of a JWKS document, by key id (keys without an id
/// or of an unusable kind are skipped).
pub async fn fetch_jwks(http: &reqwest::Client, url: &str) -> anyhow::Result<HashMap<String, DecodingKey>> {
    let set: JwkSet = http.get(url).send().await?.error_for_status()?.json().await?;
    Ok(set.keys.iter().filter_map(|jwk| Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?))).collect())
}

#[async_trait]
impl KeySource for RemoteJwks {
    async fn key(&self, kid: &str) -> Option<DecodingKey> {
        if let Some(key) = self.keys.read().await.get(kid) {
            return Some(key.clone());
        }
        self.refresh().await;
        self.keys.read().await.get(kid).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_is_case_insensitive_and_trimmed() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("abc"), None);
    }
}
