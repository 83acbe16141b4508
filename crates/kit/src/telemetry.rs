//! Logging through `tracing`: human-readable by default, JSON lines when
//! `LOG_FORMAT=json`, filtered by `RUST_LOG` (default `info`). Spans of
//! requests and consumed events carry `trace_id` (see `trace`), so log lines
//! do; with `OTEL_EXPORTER_OTLP_ENDPOINT` set, the spans are also exported
//! over OTLP/HTTP (service name from `OTEL_SERVICE_NAME`).

use std::io::IsTerminal;
use std::sync::OnceLock;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Kept for the process's lifetime: dropping it would stop the export.
static TRACER_PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Installs the global subscriber once; later calls (tests) are no-ops.
pub fn init() {
    init_with_otlp(std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok().filter(|e| !e.is_empty()).as_deref());
}

/// The same, exporting spans to `otlp_endpoint` (an OTLP/HTTP collector's
/// base URL) when given.
pub fn init_with_otlp(otlp_endpoint: Option<&str>) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,lapin=warn,tokio_postgres=warn"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let otlp = otlp_endpoint.and_then(|endpoint| match otlp_provider(endpoint) {
        Ok(provider) => {
            let tracer = provider.tracer("jobtracker");
            let _ = TRACER_PROVIDER.set(provider);
            Some(tracing_opentelemetry::layer().with_tracer(tracer))
        }
        Err(err) => {
            eprintln!("OTLP export disabled: {err}");
            None
        }
    });
    let registry = tracing_subscriber::registry().with(filter).with(otlp);
    let result = if json {
        registry.with(fmt::layer().json().with_current_span(true)).try_init()
    } else {
        let ansi = std::io::stdout().is_terminal();
        registry.with(fmt::layer().with_target(false).with_ansi(ansi)).try_init()
    };
    // Already installed (several services in one test process): keep the first.
    drop(result);
}

/// Batches spans and posts them to `<endpoint>/v1/traces` (protobuf) from a
/// thread of its own, as Hive Router's exporter does.
fn otlp_provider(endpoint: &str) -> anyhow::Result<SdkTracerProvider> {
    use opentelemetry_otlp::WithExportConfig;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()?;
    let processor = opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
        exporter,
        opentelemetry_sdk::runtime::TokioCurrentThread,
    )
    .build();
    let resource = opentelemetry_sdk::Resource::builder().build();
    Ok(SdkTracerProvider::builder().with_span_processor(processor).with_resource(resource).build())
}
