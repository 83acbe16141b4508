//! Logging through `tracing`: human-readable by default, JSON lines when
//! `LOG_FORMAT=json`, filtered by `RUST_LOG` (default `info`).

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Installs the global subscriber once; later calls (tests) are no-ops.
pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,lapin=warn,tokio_postgres=warn"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry.with(fmt::layer().json().with_current_span(true)).try_init()
    } else {
        let ansi = std::io::stdout().is_terminal();
        registry.with(fmt::layer().with_target(false).with_ansi(ansi)).try_init()
    };
    // Already installed (several services in one test process): keep the first.
    drop(result);
}
