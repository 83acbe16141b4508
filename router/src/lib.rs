//! The router: The Guild's Hive Router embedded as a library. We never plan
//! or execute queries ourselves; we give Hive a configuration derived from
//! our environment variables and register our plugins:
//!
//! - `gate`: every request to the GraphQL path, HTTP or WebSocket: bearer
//!   tokens verified by the router itself (`identity`, keys loaded in the
//!   background so the router starts without auth), a token bucket per
//!   verified subject else per address, `connection_init` checked before a
//!   WebSocket is relayed to Hive, and only our contract's error codes out;
//! - `playground`: the GraphQL playground, served offline from the binary.
//!
//! Hive runs on ntex, so the router owns its process (`run` blocks).

// ntex middleware stacks are deeply nested types (as in Hive Router itself).
#![recursion_limit = "256"]

pub mod identity;
pub mod plugins;
pub mod settings;

use hive_router::{PluginRegistry, init_rustls_crypto_provider, ntex, router_entrypoint};

pub use settings::RouterSettings;

/// Builds the plugin registry with every plugin of ours.
pub fn plugin_registry() -> PluginRegistry {
    PluginRegistry::new().register::<plugins::gate::GatePlugin>().register::<plugins::playground::PlaygroundPlugin>()
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
