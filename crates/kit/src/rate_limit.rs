//! Token buckets by client key: the router's per-caller limit and the files
//! service's byte routes (which clients reach without the router) share
//! this one implementation.

use std::time::Instant;

use dashmap::DashMap;

/// How fast buckets refill and how much they hold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BucketSize {
    /// Sustained requests per second per client.
    pub per_second: f64,
    /// Requests a client may make at once after being idle.
    pub burst: f64,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Past this many keys, buckets that have refilled are dropped (they hold
/// no state), so a flood of new addresses cannot grow the map without bound.
const FORGET_IDLE_ABOVE: usize = 100_000;

pub struct TokenBuckets {
    size: BucketSize,
    buckets: DashMap<String, Bucket>,
}

impl TokenBuckets {
    pub fn new(size: BucketSize) -> Self {
        Self { size, buckets: DashMap::new() }
    }

    /// Takes one token; `Err(seconds)` tells how long until one is available.
    pub fn try_acquire(&self, key: &str, now: Instant) -> Result<(), u64> {
        if self.buckets.len() > FORGET_IDLE_ABOVE {
            self.forget_idle(now);
        }
        let BucketSize { per_second, burst } = self.size;
        let mut bucket = self.buckets.entry(key.to_string()).or_insert_with(|| Bucket { tokens: burst, updated: now });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / per_second).ceil().max(1.0) as u64)
        }
    }

    fn forget_idle(&self, now: Instant) {
        let refill_secs = self.size.burst / self.size.per_second;
        self.buckets.retain(|_, b| now.saturating_duration_since(b.updated).as_secs_f64() < refill_secs);
    }
}

/// The bucket key of a caller without a verified identity: the first
/// `X-Forwarded-For` hop when the caller passes it (only behind a trusted
/// proxy), else the peer's address.
pub fn address_key(forwarded_for: Option<&str>, peer: Option<std::net::IpAddr>) -> String {
    let forwarded = forwarded_for.and_then(|v| v.split(',').next()).map(str::trim).filter(|ip| !ip.is_empty());
    let ip = forwarded.map(str::to_string).or_else(|| peer.map(|ip| ip.to_string()));
    format!("ip:{}", ip.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn buckets(per_second: f64, burst: f64) -> TokenBuckets {
        TokenBuckets::new(BucketSize { per_second, burst })
    }

    #[test]
    fn allows_a_burst_then_refuses_with_retry_after() {
        let limiter = buckets(1.0, 3.0);
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
        let limiter = buckets(2.0, 1.0);
        let start = Instant::now();
        assert_eq!(limiter.try_acquire("a", start), Ok(()));
        assert!(limiter.try_acquire("a", start).is_err());
        assert_eq!(limiter.try_acquire("a", start + Duration::from_millis(600)), Ok(()));
    }

    #[test]
    fn callers_are_keyed_by_the_first_forwarded_hop_else_their_address() {
        let peer = Some("10.0.0.1".parse().unwrap());
        assert_eq!(address_key(Some(" 203.0.113.7 , 10.0.0.1"), peer), "ip:203.0.113.7");
        assert_eq!(address_key(Some(" "), peer), "ip:10.0.0.1");
        assert_eq!(address_key(None, peer), "ip:10.0.0.1");
    }
}
