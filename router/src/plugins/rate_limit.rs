//! Per-client rate limiting: a token bucket per key, where the key is the
//! JWT subject when a bearer token is present, else the client IP. The
//! subject is read without verifying the signature: a forged token only
//! buys its own bucket and is then refused by authentication, so the cost
//! of guessing stays bounded. Over the limit: HTTP 429, `Retry-After`, and a
//! GraphQL error with code RATE_LIMITED.

use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hive_router::DashMap;
use hive_router::http::StatusCode;
use hive_router::ntex::http::Response;
use hive_router::plugins::hooks::on_http_request::{OnHttpRequestHookFuture, OnHttpRequestHookPayload};
use hive_router::plugins::hooks::on_plugin_init::{OnPluginInitPayload, OnPluginInitResult};
use hive_router::plugins::plugin_trait::{RouterPlugin, StartHookPayload};
use serde::Deserialize;

use super::{error_body, graphql_error};

#[derive(Clone, Debug, Deserialize)]
pub struct RateLimitConfig {
    /// Sustained requests per second per client.
    pub per_second: f64,
    /// Requests a client may make at once after being idle.
    pub burst: f64,
    /// Key anonymous clients by the first `X-Forwarded-For` address (only
    /// behind a trusted proxy).
    #[serde(default)]
    pub trust_forwarded_for: bool,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets by client key.
pub struct RateLimiter {
    config: RateLimitConfig,
    buckets: DashMap<String, Bucket>,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig) -> Self {
        Self { config, buckets: DashMap::new() }
    }

    /// Takes one token; `Err(seconds)` tells how long until one is available.
    pub fn try_acquire(&self, key: &str, now: Instant) -> Result<(), u64> {
        if self.buckets.len() > 100_000 {
            self.forget_idle(now);
        }
        let mut bucket =
            self.buckets.entry(key.to_string()).or_insert_with(|| Bucket { tokens: self.config.burst, updated: now });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.config.per_second).min(self.config.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / self.config.per_second).ceil().max(1.0) as u64)
        }
    }

    /// Drops buckets that have refilled completely: they hold no state.
    fn forget_idle(&self, now: Instant) {
        let refill_secs = self.config.burst / self.config.per_second;
        self.buckets.retain(|_, b| now.saturating_duration_since(b.updated).as_secs_f64() < refill_secs);
    }
}

/// The unverified `sub` claim of a bearer token, if it has one.
fn bearer_subject(authorization: &str) -> Option<String> {
    let token = authorization.strip_prefix("Bearer ").or_else(|| authorization.strip_prefix("bearer "))?;
    let payload = token.split('.').nth(1)?;
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

pub struct RateLimitPlugin {
    limiter: RateLimiter,
    graphql_path: String,
}

#[hive_router::async_trait]
impl RouterPlugin for RateLimitPlugin {
    type Config = RateLimitConfig;

    fn plugin_name() -> &'static str {
        "rate_limit"
    }

    fn on_plugin_init(payload: OnPluginInitPayload<Self>) -> OnPluginInitResult<Self> {
        let config = payload.config()?;
        if config.per_second <= 0.0 || config.burst < 1.0 {
            return Err("rate_limit: per_second must be > 0 and burst >= 1".into());
        }
        let graphql_path = payload.router_config().graphql_path().to_string();
        Ok(Some(Self { limiter: RateLimiter::new(config), graphql_path }))
    }

    fn on_http_request<'req>(&'req self, payload: OnHttpRequestHookPayload<'req>) -> OnHttpRequestHookFuture<'req> {
        Box::pin(async move {
            let request = &payload.router_http_request;
            if !request.path().starts_with(&self.graphql_path) {
                return payload.proceed();
            }
            let headers = request.headers();
            let subject = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(bearer_subject)
                .map(|sub| format!("sub:{sub}"));
            let key = subject.unwrap_or_else(|| {
                let forwarded = self
                    .limiter
                    .config
                    .trust_forwarded_for
                    .then(|| headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()))
                    .flatten()
                    .and_then(|v| v.split(',').next())
                    .map(|ip| ip.trim().to_string());
                let ip = forwarded.or_else(|| request.peer_addr().map(|a| a.ip().to_string()));
                format!("ip:{}", ip.unwrap_or_default())
            });
            match self.limiter.try_acquire(&key, Instant::now()) {
                Ok(()) => payload.proceed(),
                Err(retry_after) => {
                    let mut error = graphql_error("too many requests, slow down", "RATE_LIMITED");
                    error.extensions.set("retryAfter".into(), retry_after.into());
                    let response = Response::build(StatusCode::TOO_MANY_REQUESTS)
                        .content_type("application/json")
                        .header("retry-after", retry_after.to_string())
                        .body(error_body(vec![error]));
                    payload.end_with_response(response)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limiter(per_second: f64, burst: f64) -> RateLimiter {
        RateLimiter::new(RateLimitConfig { per_second, burst, trust_forwarded_for: false })
    }

    #[test]
    fn allows_a_burst_then_refuses_with_retry_after() {
        let limiter = limiter(1.0, 3.0);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.try_acquire("a", now), Ok(()));
        }
        assert_eq!(limiter.try_acquire("a", now), Err(1));
        // Another client has its own bucket.
        assert_eq!(limiter.try_acquire("b", now), Ok(()));
    }

    #[test]
    fn refills_over_time() {
        let limiter = limiter(2.0, 1.0);
        let start = Instant::now();
        assert_eq!(limiter.try_acquire("a", start), Ok(()));
        assert!(limiter.try_acquire("a", start).is_err());
        assert_eq!(limiter.try_acquire("a", start + Duration::from_millis(600)), Ok(()));
    }

    #[test]
    fn reads_the_subject_of_a_bearer_token() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"user-1","exp":1}"#);
        assert_eq!(bearer_subject(&format!("Bearer x.{payload}.sig")), Some("user-1".into()));
        assert_eq!(bearer_subject("Bearer not-a-jwt"), None);
        assert_eq!(bearer_subject("Basic abc"), None);
    }
}
