//! Who is calling. The router verifies bearer tokens itself, with the auth
//! service's public keys (JWKS), before anything else looks at a request:
//! the rate limiter may only key a bucket by a subject whose signature has
//! been checked, and the WebSocket gate must verify `connection_init`.
//!
//! The keys are loaded by a background thread with backoff, so the router
//! starts and serves anonymous operations while auth is down or restarting;
//! until the keys arrive, a request carrying a token is answered "retry
//! shortly" rather than refused as if the token were bad.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jobtracker_kit::Viewer;
use jobtracker_kit::auth::{KeySource, TokenVerifier, bearer_token, fetch_jwks};
use jsonwebtoken::DecodingKey;
use tokio::sync::{Notify, watch};

/// How often the keys are fetched again when nothing asks for it (key rotation).
const ROUTINE_REFRESH: Duration = Duration::from_secs(300);
/// An unknown key id triggers a refetch at most this often, so forged key
/// ids cannot turn into a flood of requests to the auth service.
const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// How long a request with an unknown key id waits for that refetch.
const REFETCH_WAIT: Duration = Duration::from_secs(2);
const FIRST_RETRY: Duration = Duration::from_millis(200);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// The caller of one request or WebSocket connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// No credentials: keyed by address, may only do what anyone may.
    Anonymous,
    User(Viewer),
    /// A token was presented and does not verify.
    Refused,
    /// A token was presented but the keys to check it are not loaded yet.
    KeysUnavailable,
}

impl Caller {
    /// The rate-limit key of a verified caller; anything else is keyed by address.
    pub fn subject_key(&self) -> Option<String> {
        match self {
            Caller::User(viewer) => Some(format!("sub:{}", viewer.user_id)),
            _ => None,
        }
    }
}

/// The auth service's public keys, kept fresh by a background thread.
pub struct BackgroundJwks {
    keys: RwLock<HashMap<String, DecodingKey>>,
    /// Bumped on every successful fetch; waiters watch it.
    generation: watch::Sender<u64>,
    last_fetch: RwLock<Option<Instant>>,
    wake: Notify,
}

impl BackgroundJwks {
    /// Starts fetching `url` in the background (its own thread and runtime:
    /// the router's ntex workers are single-threaded runtimes of their own).
    pub fn start(url: String) -> Arc<Self> {
        let jwks = Arc::new(Self {
            keys: RwLock::default(),
            generation: watch::channel(0).0,
            last_fetch: RwLock::default(),
            wake: Notify::new(),
        });
        let background = jwks.clone();
        let spawned = std::thread::Builder::new().name("jwks".into()).spawn(move || {
            match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime.block_on(background.keep_fresh(url)),
                Err(err) => tracing::error!(error = %err, "JWKS runtime did not start; tokens cannot be verified"),
            }
        });
        if let Err(err) = spawned {
            tracing::error!(error = %err, "JWKS thread did not start; tokens cannot be verified");
        }
        jwks
    }

    pub fn is_loaded(&self) -> bool {
        self.keys.read().is_ok_and(|keys| !keys.is_empty())
    }

    fn cached(&self, kid: &str) -> Option<DecodingKey> {
        self.keys.read().ok()?.get(kid).cloned()
    }

    async fn keep_fresh(&self, url: String) {
        let http = match reqwest::Client::builder().timeout(Duration::from_secs(5)).build() {
            Ok(http) => http,
            Err(err) => return tracing::error!(error = %err, "JWKS client did not start"),
        };
        let mut retry = FIRST_RETRY;
        loop {
            if let Ok(mut last) = self.last_fetch.write() {
                *last = Some(Instant::now());
            }
            match fetch_jwks(&http, &url).await {
                Ok(keys) if !keys.is_empty() => {
                    let first = !self.is_loaded();
                    if let Ok(mut current) = self.keys.write() {
                        *current = keys;
                    }
                    self.generation.send_modify(|g| *g += 1);
                    if first {
                        tracing::info!(%url, "JWKS loaded");
                    }
                    retry = FIRST_RETRY;
                    // Sleep until the routine refresh or an unknown key id, but
                    // never refetch sooner than the minimum interval.
                    let _ = tokio::time::timeout(ROUTINE_REFRESH, self.wake.notified()).await;
                    tokio::time::sleep(MIN_REFETCH_INTERVAL.saturating_sub(self.since_last_fetch())).await;
                }
                outcome => {
                    let error = outcome.err().map_or_else(|| "no keys in the document".into(), |e| format!("{e:#}"));
                    tracing::warn!(%url, error, retry_in_ms = retry.as_millis() as u64, "fetching JWKS failed");
                    tokio::time::sleep(retry).await;
                    retry = (retry * 2).min(MAX_RETRY);
                }
            }
        }
    }

    fn since_last_fetch(&self) -> Duration {
        self.last_fetch.read().ok().and_then(|last| *last).map_or(Duration::MAX, |at| at.elapsed())
    }
}

#[async_trait::async_trait]
impl KeySource for BackgroundJwks {
    async fn key(&self, kid: &str) -> Option<DecodingKey> {
        if let Some(key) = self.cached(kid) {
            return Some(key);
        }
        // A key id we have never seen: perhaps auth rotated its keys. Ask for
        // a refetch and wait briefly, unless one happened moments ago.
        if !self.is_loaded() || self.since_last_fetch() < MIN_REFETCH_INTERVAL {
            return None;
        }
        let mut generation = self.generation.subscribe();
        generation.mark_unchanged();
        self.wake.notify_one();
        let _ = tokio::time::timeout(REFETCH_WAIT, generation.changed()).await;
        self.cached(kid)
    }
}

/// Verifies callers' tokens with the background keys.
#[derive(Clone)]
pub struct Identity {
    jwks: Arc<BackgroundJwks>,
    verifier: TokenVerifier,
}

impl Identity {
    pub fn start(jwks_url: String) -> Self {
        let jwks = BackgroundJwks::start(jwks_url);
        Self { verifier: TokenVerifier::shared(jwks.clone()), jwks }
    }

    /// The caller behind an `Authorization` value (absent: anonymous).
    pub async fn caller(&self, authorization: Option<&str>) -> Caller {
        let Some(authorization) = authorization.map(str::trim).filter(|v| !v.is_empty()) else {
            return Caller::Anonymous;
        };
        let Some(token) = bearer_token(authorization) else { return Caller::Refused };
        match self.verifier.verify(token).await {
            Ok(viewer) => Caller::User(viewer),
            Err(_) if !self.jwks.is_loaded() => Caller::KeysUnavailable,
            Err(_) => Caller::Refused,
        }
    }
}
