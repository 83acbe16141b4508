//! Per-client rate limiting: a token bucket per key. The gate keys a bucket
//! by a caller's subject only once its token has been verified; everyone
//! else (anonymous, forged or expired tokens) is keyed by client address, so
//! nobody can spend another user's bucket. HTTP requests and every message
//! over a WebSocket draw from the same buckets.

use std::net::IpAddr;
use std::time::Instant;

use hive_router::ntex::http::HeaderMap;
use jobtracker_kit::rate_limit::{BucketSize, TokenBuckets, address_key};
use serde::Deserialize;

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

/// Token buckets by client key (kit's), plus how a client is keyed.
pub struct RateLimiter {
    config: RateLimitConfig,
    buckets: TokenBuckets,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig) -> Self {
        let size = BucketSize { per_second: config.per_second, burst: config.burst };
        Self { config, buckets: TokenBuckets::new(size) }
    }

    /// Takes one token; `Err(seconds)` tells how long until one is available.
    pub fn try_acquire(&self, key: &str, now: Instant) -> Result<(), u64> {
        self.buckets.try_acquire(key, now)
    }

    /// The key of a caller without a verified subject: its address (the
    /// first `X-Forwarded-For` hop when that is trusted).
    pub fn address_key(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> String {
        let forwarded = self
            .config
            .trust_forwarded_for
            .then(|| headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()))
            .flatten();
        address_key(forwarded, peer)
    }
}
