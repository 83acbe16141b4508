//! Prometheus metrics of a service, through the `prometheus` crate (already
//! in the tree for Hive Router). Every metric carries a `service` label and
//! `GET /metrics` of a service answers only its own samples, so a process
//! that runs every service (`--target all`) still gives one clean endpoint
//! per service.
//!
//! Counters and histograms are recorded where things happen; gauges that
//! describe state someone else may have changed (the outbox backlog, the
//! pool) are sampled when scraped, so a backlog that grows while RabbitMQ is
//! down is visible then, not after the relay comes back.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use prometheus::core::Collector;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, TextEncoder, proto::MetricFamily,
};

use crate::db::Pool;

/// Seconds buckets from 1 ms to 30 s: request latencies and event lags.
const SECONDS_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Metrics are registered in the default registry once each: define them
/// in a `LazyLock`. Names, help texts and labels are literals of this code,
/// never input, so a definition that fails is a programming error caught by
/// the first test that touches it.
fn registered<M: Collector + Clone + 'static>(metric: prometheus::Result<M>) -> M {
    // checked: static definitions (valid names, at least one label, no duplicate name).
    let metric = metric.expect("static metric definition");
    // checked: each metric is registered once, from its `LazyLock`.
    prometheus::register(Box::new(metric.clone())).expect("metric registered once");
    metric
}

pub fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    registered(IntCounterVec::new(Opts::new(name, help), labels))
}

pub fn gauge(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    registered(IntGaugeVec::new(Opts::new(name, help), labels))
}

pub fn histogram(name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    registered(HistogramVec::new(HistogramOpts::new(name, help).buckets(SECONDS_BUCKETS.to_vec()), labels))
}

pub static HTTP_REQUEST_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram(
        "http_server_request_duration_seconds",
        "Time to answer an HTTP request (GraphQL included), by route and status.",
        &["service", "method", "route", "status"],
    )
});
static DB_POOL_CONNECTIONS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge("db_pool_connections", "Connections of the database pool, in use or idle.", &["service", "state"])
});
static DB_POOL_MAX: LazyLock<IntGaugeVec> =
    LazyLock::new(|| gauge("db_pool_max_connections", "Size limit of the database pool.", &["service"]));
static DB_POOL_WAITING: LazyLock<IntGaugeVec> =
    LazyLock::new(|| gauge("db_pool_waiting_requests", "Callers waiting for a connection of the pool.", &["service"]));
static OUTBOX_PENDING: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge("outbox_pending_events", "Outbox rows not yet published (set-aside rows excluded).", &["service"])
});
static OUTBOX_OLDEST_AGE: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge("outbox_oldest_pending_age_seconds", "Age of the oldest unpublished outbox row (0: none).", &["service"])
});
pub static OUTBOX_PUBLISHED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter("outbox_published_events_total", "Outbox rows published and confirmed by the broker.", &["service"])
});
pub static OUTBOX_SET_ASIDE: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter("outbox_set_aside_events_total", "Outbox rows that can never be published, set aside.", &["service"])
});
pub static EVENTS_CONSUMED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "events_consumed_total",
        "Deliveries handled by a consumer: applied, duplicate (already applied) or dead_lettered.",
        &["service", "queue", "outcome"],
    )
});
pub static EVENTS_REDELIVERED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter("events_redelivered_total", "Deliveries the broker marked as redelivered.", &["service", "queue"])
});
pub static EVENTS_RETRIES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter("events_handler_retries_total", "Transient failures of a handler, each retried.", &["service", "queue"])
});
pub static EVENTS_LAG: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram(
        "events_consume_lag_seconds",
        "From an event's occurrence to its consumer committing it.",
        &["service", "queue"],
    )
});
pub static QUEUE_MESSAGES: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge("events_queue_messages", "Messages ready in a consumer's queue (sampled).", &["service", "queue"])
});
pub static DEAD_LETTER_MESSAGES: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge("events_dead_letter_messages", "Messages in a consumer's dead-letter queue (sampled).", &["service", "queue"])
});

/// The `service` and `queue` labels of a consumer queue's metrics
/// (`analytics.events` belongs to `analytics`).
pub fn queue_labels(queue: &'static str) -> [&'static str; 2] {
    [queue.split('.').next().unwrap_or(queue), queue]
}

/// Seconds since `at`, never negative (clocks of two hosts may disagree).
pub fn seconds_since(at: chrono::DateTime<chrono::Utc>) -> f64 {
    (chrono::Utc::now() - at).to_std().map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Refreshes gauges when `/metrics` is scraped.
pub type Sampler = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// How long a scrape waits for a sampler (a database that is down must not
/// hang the scrape; its gauges keep their last value).
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(2);

/// The pool's use, read without touching the database.
pub fn pool_sampler(service: &'static str, pool: Pool) -> Sampler {
    Arc::new(move || {
        let status = pool.status();
        let in_use = status.size.saturating_sub(status.available) as i64;
        DB_POOL_CONNECTIONS.with_label_values(&[service, "in_use"]).set(in_use);
        DB_POOL_CONNECTIONS.with_label_values(&[service, "idle"]).set(status.available as i64);
        DB_POOL_MAX.with_label_values(&[service]).set(status.max_size as i64);
        DB_POOL_WAITING.with_label_values(&[service]).set(status.waiting as i64);
        Box::pin(async {})
    })
}

#[derive(diesel::QueryableByName)]
struct Backlog {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pending: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    oldest_age_seconds: i64,
}

/// The outbox backlog: one query on the pending rows' partial index.
pub fn outbox_sampler(service: &'static str, pool: Pool) -> Sampler {
    Arc::new(move || {
        let pool = pool.clone();
        Box::pin(async move {
            use diesel_async::RunQueryDsl;
            let Ok(mut conn) = pool.get().await else { return };
            let backlog: Result<Backlog, _> = diesel::sql_query(
                "SELECT count(*) AS pending, \
                 COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::bigint AS oldest_age_seconds \
                 FROM outbox WHERE published_at IS NULL AND failed_at IS NULL",
            )
            .get_result(&mut conn)
            .await;
            match backlog {
                Ok(backlog) => {
                    OUTBOX_PENDING.with_label_values(&[service]).set(backlog.pending);
                    OUTBOX_OLDEST_AGE.with_label_values(&[service]).set(backlog.oldest_age_seconds.max(0));
                }
                Err(err) => tracing::warn!(service, error = %err, "sampling the outbox backlog failed"),
            }
        })
    })
}

/// The text exposition of `service`'s samples.
pub async fn render(service: &str, samplers: &[Sampler]) -> String {
    let samples = samplers.iter().map(|sample| tokio::time::timeout(SAMPLE_TIMEOUT, sample()));
    futures::future::join_all(samples).await;
    let families = own_families(prometheus::gather(), service);
    let mut text = Vec::new();
    // checked: the text encoder writes into a Vec, which cannot fail.
    TextEncoder::new().encode(&families, &mut text).expect("encoding into memory");
    String::from_utf8(text).unwrap_or_default()
}

/// Keeps the samples labelled `service="<service>"`.
fn own_families(families: Vec<MetricFamily>, service: &str) -> Vec<MetricFamily> {
    families
        .into_iter()
        .filter_map(|mut family| {
            family.mut_metric().retain(|metric| {
                metric.get_label().iter().any(|label| label.name() == "service" && label.value() == service)
            });
            (!family.get_metric().is_empty()).then_some(family)
        })
        .collect()
}

/// Records the latency of every request of `service` (by route template,
/// so ids in paths never become label values).
pub async fn track_requests(service: &'static str, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let route = route.unwrap_or_else(|| "unmatched".into());
    let status = response.status().as_u16().to_string();
    HTTP_REQUEST_DURATION
        .with_label_values(&[service, &method, &route, &status])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics` of `service`.
pub fn route(service: &'static str, samplers: Vec<Sampler>) -> axum::Router {
    let samplers = Arc::new(samplers);
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let samplers = samplers.clone();
            async move {
                let text = render(service, &samplers).await;
                ([(axum::http::header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response()
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_sees_only_its_own_samples() {
        EVENTS_REDELIVERED.with_label_values(&["alpha", "alpha.events"]).inc();
        EVENTS_REDELIVERED.with_label_values(&["beta", "beta.events"]).inc_by(2);
        let families = own_families(prometheus::gather(), "beta");
        let family = families.iter().find(|f| f.name() == "events_redelivered_total").expect("family");
        assert_eq!(family.get_metric().len(), 1);
        assert!(families.iter().all(|f| {
            f.get_metric().iter().all(|m| m.get_label().iter().any(|l| l.name() == "service" && l.value() == "beta"))
        }));
    }
}
