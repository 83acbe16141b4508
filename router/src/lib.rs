//! The router: The Guild's Hive Router embedded as a library. We never plan
//! or execute queries ourselves; we give Hive a configuration derived from
//! our environment variables and register our plugins:
//!
//! - `rate_limit`: token bucket per client (JWT subject, else IP), 429 + RATE_LIMITED;
//! - `token_gate`: a present but invalid bearer token is refused with
//!   UNAUTHENTICATED (Hive ignores it when authentication is optional), and
//!   Hive's own JWT error codes are mapped to ours;
//! - `playground`: the GraphQL playground, served offline from the binary;
//! - `ws_gate`: WebSocket clients with a bad token in `connection_init` are
//!   closed with 4403 (Hive would acknowledge them).
//!
//! Hive runs on ntex, so the router owns its process (`run` blocks).

// ntex middleware stacks are deeply nested types (as in Hive Router itself).
#![recursion_limit = "256"]

pub mod plugins;
pub mod settings;

use hive_router::{PluginRegistry, init_rustls_crypto_provider, ntex, router_entrypoint};

pub use settings::RouterSettings;

/// Builds the plugin registry with every plugin of ours.
pub fn plugin_registry() -> PluginRegistry {
    PluginRegistry::new()
        .register::<plugins::rate_limit::RateLimitPlugin>()
        .register::<plugins::token_gate::TokenGatePlugin>()
        .register::<plugins::playground::PlaygroundPlugin>()
        .register::<plugins::ws_gate::WsGatePlugin>()
}

/// Writes Hive's configuration for `settings` and serves until SIGINT/SIGTERM
/// (in-flight requests finish within the shutdown timeout).
pub fn run(settings: RouterSettings) -> anyhow::Result<()> {
    let config_path = settings.write_config_file()?;
    // Hive reads its configuration path from the environment.
    set_config_path(&config_path);
    serve()
}

#[allow(unsafe_code)]
fn set_config_path(path: &std::path::Path) {
    // SAFETY: called at start-up before any thread is spawned.
    unsafe { std::env::set_var("ROUTER_CONFIG_FILE_PATH", path) };
}

#[hive_router::main]
async fn serve() -> anyhow::Result<()> {
    init_rustls_crypto_provider();
    router_entrypoint(plugin_registry()).await.map_err(|err| anyhow::anyhow!("router: {err}"))
}
pub use hive_router;
