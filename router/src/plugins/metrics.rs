//! The router's own counters, beside Hive's built-in metrics (request and
//! subgraph-fetch latency, errors by Hive's code, subscriptions): what only
//! our gate knows. They go through the OpenTelemetry meter Hive installs, so
//! they land in the same Prometheus exposition (`/metrics`).

use std::sync::LazyLock;

use hive_router::opentelemetry::metrics::Counter;
use hive_router::opentelemetry::{KeyValue, global};

struct Instruments {
    rate_limited: Counter<u64>,
    errors: Counter<u64>,
}

static INSTRUMENTS: LazyLock<Instruments> = LazyLock::new(|| {
    let meter = global::meter("jobtracker.router");
    Instruments {
        rate_limited: meter
            .u64_counter("jobtracker.router.rate_limited_total")
            .with_description("Requests and WebSocket messages refused by the rate limit")
            .build(),
        errors: meter
            .u64_counter("jobtracker.router.errors_total")
            .with_description("Errors sent to clients, by the contract's extensions.code")
            .build(),
    }
});

/// `transport`: `http`, `websocket_connect` or `websocket_message`.
pub fn rate_limited(transport: &'static str) {
    INSTRUMENTS.rate_limited.add(1, &[KeyValue::new("transport", transport)]);
}

pub fn client_error(code: &str) {
    INSTRUMENTS.errors.add(1, &[KeyValue::new("code", code.to_string())]);
}
