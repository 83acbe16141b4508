//! Router settings from environment variables, rendered into Hive's YAML
//! configuration. An operator who wants Hive's full configuration surface
//! sets `ROUTER_CONFIG_FILE_PATH` to their own file instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use jobtracker_kit::env::{Vars, env_parse};
use serde_json::{Value, json};

/// The supergraph composed at build time, used when no file is given and
/// `schema/supergraph.graphql` is not in the working directory.
pub const EMBEDDED_SUPERGRAPH: &str = include_str!("../../schema/supergraph.graphql");

#[derive(Clone, Debug)]
pub struct RouterSettings {
    pub host: String,
    pub port: u16,
    /// Federation v2 supergraph file; polled for changes (hot reload).
    pub supergraph_path: Option<PathBuf>,
    pub poll_interval_secs: u64,
    /// Base URL per subgraph name (`<NAME>_URL`), overriding the supergraph's.
    pub subgraph_urls: BTreeMap<String, String>,
    pub jwks_url: String,
    pub rate_limit_per_second: f64,
    pub rate_limit_burst: f64,
    pub trust_forwarded_for: bool,
    pub cors_origins: Vec<String>,
    pub max_depth: usize,
    pub max_aliases: usize,
    /// WebSocket connections (and SSE subscription streams) held open at once.
    pub max_long_lived_clients: usize,
    /// Operations open over WebSockets at once, in all and per user.
    pub max_subscriptions: usize,
    pub max_subscriptions_per_user: usize,
    /// How long an idle subgraph connection (HTTP or a WebSocket with no
    /// operation left) is kept for reuse.
    pub subgraph_idle_secs: u64,
    pub workers: Option<usize>,
    /// How long in-flight requests get to finish on SIGTERM.
    pub shutdown_timeout_secs: u64,
    pub dedupe: bool,
    pub log_level: String,
    /// `ROUTER_MODE=production`: introspection and the playground off,
    /// persisted documents only, request errors masked.
    pub production: bool,
    /// `ROUTER_PERSISTED_DOCUMENTS`: a manifest of trusted documents (Apollo's
    /// `apollo-persisted-query-manifest` or a plain `{ "id": "document" }`
    /// map), watched for changes. Required in production mode, which then
    /// refuses any request that names no id from it.
    pub persisted_documents: Option<PathBuf>,
    /// `ROUTER_MAX_REQUEST_BODY_BYTES`: larger bodies are refused unread.
    pub max_request_body_bytes: u64,
    /// `ROUTER_METRICS_PORT`: Prometheus `/metrics` on its own port (keep it
    /// off the public listener in production); unset, on the router's port.
    pub metrics_port: Option<u16>,
    /// `ROUTER_METRICS_OPERATION_NAMES`: label request metrics with the
    /// operation's name. On by default in production mode only, where the
    /// names come from the trusted manifest; elsewhere any client could
    /// mint a new time series per request.
    pub metrics_operation_names: bool,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: spans exported over OTLP/HTTP there.
    pub otlp_endpoint: Option<String>,
}

fn env(key: &str) -> Option<String> {
    Vars::Process.get(key)
}

impl RouterSettings {
    /// `auth_url`: where the auth service answers (its JWKS is under it
    /// unless `ROUTER_JWKS_URL` says otherwise).
    pub fn from_env(supergraph_path: Option<PathBuf>, auth_url: &str) -> anyhow::Result<Self> {
        let supergraph_path = supergraph_path
            .or_else(|| env("SUPERGRAPH_PATH").map(PathBuf::from))
            .or_else(|| Some(PathBuf::from("schema/supergraph.graphql")).filter(|p| p.exists()));
        let production = match env("ROUTER_MODE").as_deref() {
            None | Some("development") => false,
            Some("production") => true,
            Some(other) => anyhow::bail!("ROUTER_MODE must be development or production, not {other:?}"),
        };
        // Absolute: Hive resolves a relative path against its configuration
        // file, which lives in a runtime directory.
        let persisted_documents = env("ROUTER_PERSISTED_DOCUMENTS")
            .map(|path| std::fs::canonicalize(&path).with_context(|| format!("ROUTER_PERSISTED_DOCUMENTS={path}")))
            .transpose()?;
        if production && persisted_documents.is_none() {
            anyhow::bail!(
                "ROUTER_MODE=production serves trusted documents only: set ROUTER_PERSISTED_DOCUMENTS to their manifest"
            );
        }
        Ok(Self {
            host: env("ROUTER_HOST").unwrap_or_else(|| "127.0.0.1".into()),
            port: env_parse("ROUTER_PORT", 4000)?,
            supergraph_path,
            poll_interval_secs: env_parse("SUPERGRAPH_POLL_SECS", 5)?,
            subgraph_urls: BTreeMap::new(),
            jwks_url: env("ROUTER_JWKS_URL")
                .unwrap_or_else(|| format!("{}/.well-known/jwks.json", auth_url.trim_end_matches('/'))),
            rate_limit_per_second: env_parse("RATE_LIMIT_PER_SECOND", 50.0)?,
            rate_limit_burst: env_parse("RATE_LIMIT_BURST", 100.0)?,
            trust_forwarded_for: env_parse("RATE_LIMIT_TRUST_FORWARDED_FOR", false)?,
            cors_origins: env("CORS_ALLOW_ORIGINS")
                .unwrap_or_else(|| "*".into())
                .split(',')
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty())
                .collect(),
            max_depth: env_parse("ROUTER_MAX_DEPTH", 12)?,
            max_aliases: env_parse("ROUTER_MAX_ALIASES", 30)?,
            max_long_lived_clients: env_parse("ROUTER_MAX_LONG_LIVED_CLIENTS", 15_000)?,
            max_subscriptions: env_parse("ROUTER_MAX_SUBSCRIPTIONS", 30_000)?,
            max_subscriptions_per_user: env_parse("ROUTER_MAX_SUBSCRIPTIONS_PER_USER", 50)?,
            subgraph_idle_secs: env_parse("ROUTER_SUBGRAPH_IDLE_SECS", 50)?,
            workers: env("ROUTER_WORKERS").map(|w| w.parse()).transpose().context("ROUTER_WORKERS")?,
            shutdown_timeout_secs: env_parse("ROUTER_SHUTDOWN_TIMEOUT_SECS", 10)?,
            dedupe: env_parse("ROUTER_DEDUPE", true)?,
            log_level: env("ROUTER_LOG_LEVEL").unwrap_or_else(|| "info".into()),
            production,
            persisted_documents,
            max_request_body_bytes: env_parse("ROUTER_MAX_REQUEST_BODY_BYTES", 256 * 1024)?,
            metrics_operation_names: env_parse("ROUTER_METRICS_OPERATION_NAMES", production)?,
            otlp_endpoint: env("OTEL_EXPORTER_OTLP_ENDPOINT").filter(|e| !e.is_empty()),
            metrics_port: env("ROUTER_METRICS_PORT").map(|p| p.parse()).transpose().context("ROUTER_METRICS_PORT")?,
        })
    }

    /// Reads `<NAME>_URL` for every subgraph the supergraph names.
    pub fn with_subgraph_urls_from_env(mut self, supergraph_sdl: &str) -> Self {
        for name in subgraph_names(supergraph_sdl) {
            if let Some(url) = env(&format!("{}_URL", name.to_ascii_uppercase())) {
                self.subgraph_urls.insert(name, url.trim_end_matches('/').to_string());
            }
        }
        self
    }

    pub fn supergraph_sdl(&self) -> anyhow::Result<String> {
        match &self.supergraph_path {
            Some(path) => {
                std::fs::read_to_string(path).with_context(|| format!("reading supergraph {}", path.display()))
            }
            None => Ok(EMBEDDED_SUPERGRAPH.to_string()),
        }
    }

    /// Hive's configuration as YAML (JSON is valid YAML).
    pub fn hive_config(&self, supergraph_path: &Path) -> Value {
        let overrides: serde_json::Map<String, Value> = self
            .subgraph_urls
            .iter()
            .map(|(name, base)| (name.clone(), json!({ "url": format!("{base}/graphql") })))
            .collect();
        let cors = if self.cors_origins.iter().any(|o| o == "*") {
            json!({ "enabled": true, "allow_any_origin": true, "policies": [] })
        } else {
            json!({ "enabled": true, "policies": [{ "origins": self.cors_origins }] })
        };
        let mut http = json!({
            "host": self.host,
            "port": self.port,
            "graphql_endpoint": "/graphql",
            "shutdown_timeout": format!("{}s", self.shutdown_timeout_secs),
        });
        if let Some(workers) = self.workers {
            http["workers"] = json!(workers);
        }
        let mut prometheus = json!({ "kind": "prometheus", "path": "/metrics" });
        if let Some(port) = self.metrics_port {
            prometheus["port"] = json!(port);
        }
        // Instruments labelled by operation name, when that label is off.
        let instruments: serde_json::Map<String, Value> = if self.metrics_operation_names {
            serde_json::Map::new()
        } else {
            OPERATION_NAME_INSTRUMENTS
                .iter()
                .map(|name| (name.to_string(), json!({ "attributes": { "graphql.operation.name": false } })))
                .collect()
        };
        // Hive's spans continue the gate's traceparent and are injected into subgraph fetches.
        let tracing_exporters: Vec<Value> = self
            .otlp_endpoint
            .iter()
            .map(|endpoint| {
                json!({ "kind": "otlp", "protocol": "http", "endpoint": format!("{}/v1/traces", endpoint.trim_end_matches('/')) })
            })
            .collect();
        let persisted_documents = match &self.persisted_documents {
            Some(path) => json!({
                "enabled": true,
                "require_id": self.production,
                "storage": { "type": "file", "path": path, "watch": true },
            }),
            None => json!({ "enabled": false }),
        };
        json!({
            "log": { "level": self.log_level },
            "http": http,
            "supergraph": {
                "source": "file",
                "path": supergraph_path,
                "poll_interval": format!("{}s", self.poll_interval_secs),
            },
            "override_subgraph_urls": { "subgraphs": overrides },
            "laboratory": { "enabled": false },
            "introspection": !self.production,
            "persisted_documents": persisted_documents,
            "telemetry": {
                "metrics": { "exporters": [prometheus], "instrumentation": { "instruments": instruments } },
                "tracing": { "exporters": tracing_exporters },
                "resource": { "attributes": { "service.name": "router" } },
            },
            "error_masking": { "enabled": false },
            "cors": cors,
            // traceparent: the gate's (the client's continued, or a new trace).
            "headers": { "all": { "request": [
                { "propagate": { "named": "Authorization" } },
                { "propagate": { "named": "traceparent" } },
            ] } },
            "limits": {
                "max_depth": { "n": self.max_depth },
                "max_aliases": { "n": self.max_aliases },
                "max_request_body_size": format!("{}B", self.max_request_body_bytes),
            },
            "traffic_shaping": {
                "all": { "dedupe_enabled": self.dedupe, "pool_idle_timeout": format!("{}s", self.subgraph_idle_secs) },
                "router": { "max_long_lived_clients": self.max_long_lived_clients },
            },
            // Only each operation's headers count: the gate's upstream
            // sockets carry many clients, and it writes each operation's
            // verified Authorization there (decision 32).
            "websocket": { "enabled": true, "headers": { "source": "operation" } },
            "subscriptions": { "enabled": true, "websocket": { "all": { "path": "/ws" } } },
            // Tokens are verified by our gate (Hive's JWT plugin would make
            // the router's start depend on auth being up).
            "plugins": {
                "gate": {
                    "enabled": true,
                    "config": {
                        "per_second": self.rate_limit_per_second,
                        "burst": self.rate_limit_burst,
                        "trust_forwarded_for": self.trust_forwarded_for,
                        "jwks_url": self.jwks_url,
                        "max_websockets": self.max_long_lived_clients,
                        "max_subscriptions": self.max_subscriptions,
                        "max_subscriptions_per_user": self.max_subscriptions_per_user,
                        "mask_request_errors": self.production,
                    }
                },
                "playground": { "enabled": !self.production },
            },
        })
    }

    /// Writes the supergraph (when embedded) and the configuration to a
    /// private runtime directory; returns the configuration's path.
    pub fn write_config_file(&self) -> anyhow::Result<PathBuf> {
        let dir = std::env::temp_dir().join(format!("jobtracker-router-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let supergraph_path = match &self.supergraph_path {
            Some(path) => std::fs::canonicalize(path).with_context(|| format!("supergraph {}", path.display()))?,
            None => {
                let path = dir.join("supergraph.graphql");
                std::fs::write(&path, EMBEDDED_SUPERGRAPH)?;
                path
            }
        };
        let config_path = dir.join("router.config.yaml");
        let yaml = serde_yaml::to_string(&self.hive_config(&supergraph_path))?;
        std::fs::write(&config_path, yaml)?;
        Ok(config_path)
    }
}

/// Hive's instruments that carry `graphql.operation.name`.
const OPERATION_NAME_INSTRUMENTS: &[&str] = &[
    "http.server.request.duration",
    "http.server.request.body.size",
    "http.server.response.body.size",
    "hive.router.request.overhead.duration",
    "hive.router.request.external_wait.duration",
];

/// Subgraph names declared by `@join__graph(name: "…", url: "…")`.
pub fn subgraph_names(supergraph_sdl: &str) -> Vec<String> {
    let pattern = regex::Regex::new(r#"@join__graph\(\s*name:\s*"([^"]+)""#).expect("static regex");
    pattern.captures_iter(supergraph_sdl).map(|c| c[1].to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_subgraph_names_in_a_supergraph() {
        let sdl = r#"enum join__Graph {
  AUTH @join__graph(name: "auth", url: "http://127.0.0.1:4001/graphql")
  USERS @join__graph(name: "users", url: "http://127.0.0.1:4002/graphql")
}"#;
        assert_eq!(subgraph_names(sdl), vec!["auth", "users"]);
    }

    #[test]
    fn the_embedded_supergraph_names_auth_and_users() {
        let names = subgraph_names(EMBEDDED_SUPERGRAPH);
        assert!(names.contains(&"auth".to_string()) && names.contains(&"users".to_string()), "{names:?}");
    }
}
