//! Per-client rate limiting: a token bucket per key. The gate keys a bucket
//! by a caller's subject only once its token has been verified; everyone
//! else (anonymous, forged or expired tokens) is keyed by client address, so
//! nobody can spend another user's bucket. HTTP requests and every message
//! over a WebSocket draw from the same buckets.

use std::net::IpAddr;
use std::time::Instant;

use hive_router::DashMap;
use hive_router::ntex::http::HeaderMap;
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

    /// The key of a caller without a verified subject: its address (the
    /// first `X-Forwarded-For` hop when that is trusted).
    pub fn address_key(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> String {
        let forwarded = self
            .config
            .trust_forwarded_for
            .then(|| headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()))
            .flatten()
            .and_then(|v| v.split(',').next())
            .map(|ip| ip.trim().to_string());
        let ip = forwarded.or_else(|| peer.map(|ip| ip.to_string()));
        format!("ip:{}", ip.unwrap_or_default())
    }

    /// Drops buckets that have refilled completely: they hold no state.
    fn forget_idle(&self, now: Instant) {
        let refill_secs = self.config.burst / self.config.per_second;
        self.buckets.retain(|_, b| now.saturating_duration_since(b.updated).as_secs_f64() < refill_secs);
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
}
