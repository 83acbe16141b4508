//! files subgraph: owns `File` — résumés — and contributes `User.resume`.
//! Bytes go straight from the client to the object store through
//! time-limited URLs (a local directory served by this service, or S3
//! presigned URLs), and are checked for what they claim to be before a
//! résumé is attached (decision 27).

pub mod http;
pub mod model;
pub mod resumes;
pub mod schema;
pub mod signing;
pub mod sniff;
pub mod storage;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use jobtracker_kit::auth::TokenVerifier;
use jobtracker_kit::config::ServiceConfig;
use jobtracker_kit::db;
use jobtracker_kit::rate_limit::BucketSize;
use jobtracker_kit::server::ServiceApp;
use jobtracker_kit::service::{ServiceEnv, ServiceSpec};

use crate::http::ByteRoutes;
use crate::resumes::{Limits, Resumes};
use crate::signing::UrlSigner;
use crate::storage::{LocalStore, ObjectStore, S3Settings, S3Store};
use crate::store::Store;

pub use schema::{FilesSchema, schema_builder};

pub const SERVICE: &str = "files";
pub const DEFAULT_PORT: u16 = 4008;
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/files");

/// This service in the table of services.
pub const SPEC: ServiceSpec = jobtracker_kit::subgraph_spec!(
    migrations: Some(|| MIGRATIONS),
    consumes: &[],
    calls: &["auth"],
);

/// Where résumé bytes are kept.
#[derive(Clone, Debug)]
pub enum Storage {
    /// `FILES_DIR`; URLs point at `FILES_PUBLIC_URL` (default: where this
    /// service listens).
    Local {
        dir: PathBuf,
        public_url: Option<String>,
    },
    S3(S3Settings),
}

#[derive(Clone, Debug)]
pub struct Config {
    pub service: ServiceConfig,
    /// auth's base URL, for its JWKS.
    pub auth_url: String,
    pub storage: Storage,
    /// `FILES_MAX_BYTES`: the largest résumé accepted.
    pub max_bytes: u64,
    /// `FILES_UPLOAD_URL_SECS`, `FILES_DOWNLOAD_URL_SECS`,
    /// `FILES_MAX_PENDING_UPLOADS`, `FILES_MAX_CONCURRENT_CHECKS`.
    pub limits: Limits,
    /// `FILES_SWEEP_INTERVAL_SECS`: how often the sweeper runs.
    pub sweep_every: Duration,
    /// `FILES_SWEEP_GRACE_SECS`: how long after its upload window an upload
    /// may still be attached before it is swept.
    pub sweep_grace: Duration,
    /// The local backend's byte routes: `FILES_RATE_LIMIT_PER_SECOND` /
    /// `FILES_RATE_LIMIT_BURST` per client address, `FILES_TRUST_FORWARDED_FOR`,
    /// `CORS_ALLOW_ORIGINS`.
    pub byte_routes: ByteRoutes,
}

impl Config {
    pub fn load(env: &ServiceEnv) -> anyhow::Result<Self> {
        let vars = &env.vars;
        let seconds = |key: &str, default: u64| -> anyhow::Result<Duration> {
            let value: u64 = vars.parse(key, default)?;
            anyhow::ensure!(value > 0, "{key} must be a positive number of seconds");
            Ok(Duration::from_secs(value))
        };
        let positive = |key: &str, default: i64| -> anyhow::Result<i64> {
            let value: i64 = vars.parse(key, default)?;
            anyhow::ensure!(value > 0, "{key} must be at least 1");
            Ok(value)
        };
        let max_bytes: u64 = vars.parse("FILES_MAX_BYTES", model::DEFAULT_MAX_BYTES)?;
        // sizeBytes is a GraphQL Int.
        anyhow::ensure!(
            (1..=i32::MAX as u64).contains(&max_bytes),
            "FILES_MAX_BYTES must be between 1 and {}",
            i32::MAX
        );
        let s3_endpoint = vars.get("S3_ENDPOINT");
        let backend = vars.or("FILES_STORAGE", if s3_endpoint.is_some() { "s3" } else { "local" });
        let storage = match backend.as_str() {
            "local" => Storage::Local {
                dir: vars
                    .get("FILES_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(vars.or("DATA_DIR", ".data")).join("files")),
                public_url: vars.get("FILES_PUBLIC_URL"),
            },
            "s3" => Storage::S3(S3Settings {
                endpoint: s3_endpoint,
                public_endpoint: vars.get("S3_PUBLIC_ENDPOINT"),
                bucket: vars.or("S3_BUCKET", "jobtracker-resumes"),
                region: vars.or("S3_REGION", &vars.or("AWS_REGION", "us-east-1")),
                access_key_id: vars
                    .get("AWS_ACCESS_KEY_ID")
                    .ok_or_else(|| anyhow::anyhow!("the S3 backend needs AWS_ACCESS_KEY_ID"))?,
                secret_access_key: vars
                    .get("AWS_SECRET_ACCESS_KEY")
                    .ok_or_else(|| anyhow::anyhow!("the S3 backend needs AWS_SECRET_ACCESS_KEY"))?,
                session_token: vars.get("AWS_SESSION_TOKEN"),
                timeout: seconds("S3_TIMEOUT_SECS", 30)?,
            }),
            other => anyhow::bail!("FILES_STORAGE={other:?}: expected local or s3"),
        };
        let rate = BucketSize {
            per_second: vars.parse("FILES_RATE_LIMIT_PER_SECOND", 20.0)?,
            burst: vars.parse("FILES_RATE_LIMIT_BURST", 40.0)?,
        };
        anyhow::ensure!(
            rate.per_second > 0.0 && rate.burst >= 1.0,
            "FILES_RATE_LIMIT_PER_SECOND must be > 0 and FILES_RATE_LIMIT_BURST >= 1"
        );
        Ok(Self {
            service: env.service.clone(),
            auth_url: env.url("auth")?,
            storage,
            max_bytes,
            limits: Limits {
                upload_url: seconds("FILES_UPLOAD_URL_SECS", model::DEFAULT_UPLOAD_WINDOW.as_secs())?,
                download_url: seconds("FILES_DOWNLOAD_URL_SECS", 900)?,
                pending_uploads: positive("FILES_MAX_PENDING_UPLOADS", 5)?,
                concurrent_checks: usize::try_from(positive("FILES_MAX_CONCURRENT_CHECKS", 4)?)?,
            },
            sweep_every: seconds("FILES_SWEEP_INTERVAL_SECS", 60)?,
            sweep_grace: Duration::from_secs(vars.parse("FILES_SWEEP_GRACE_SECS", 900)?),
            byte_routes: ByteRoutes {
                rate,
                trust_forwarded_for: vars.parse("FILES_TRUST_FORWARDED_FOR", false)?,
                cors_origins: vars.or("CORS_ALLOW_ORIGINS", "*").split(',').map(|o| o.trim().to_string()).collect(),
            },
        })
    }
}

/// The URL clients reach a service bound to `addr` at, by default.
fn own_url(addr: std::net::SocketAddr) -> String {
    let host = if addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { addr.ip().to_string() };
    format!("http://{host}:{}", addr.port())
}

pub async fn build(config: Config) -> anyhow::Result<ServiceApp> {
    let pool = db::bootstrap(&config.service.database, MIGRATIONS).await?;
    let store = Store::new(pool.clone());
    let verifier = TokenVerifier::for_auth_service(&config.auth_url);
    let mut sweeper = None;
    let app = ServiceApp::bind_with(SERVICE, config.service.addr, async |addr| {
        let (objects, byte_routes): (Arc<dyn ObjectStore>, Option<axum::Router>) = match &config.storage {
            Storage::Local { dir, public_url } => {
                let signer = UrlSigner::new(store.signing_key().await?);
                let public_url = public_url.clone().unwrap_or_else(|| own_url(addr));
                let local = Arc::new(LocalStore::open(dir.clone(), public_url, signer).await?);
                let routes = http::routes(local.clone(), store.clone(), &config.byte_routes, config.max_bytes);
                (local, Some(routes))
            }
            Storage::S3(settings) => (Arc::new(S3Store::connect(settings.clone()).await?), None),
        };
        let resumes = Resumes::new(store.clone(), objects, config.limits);
        sweeper = Some(resumes.clone());
        let graphql = jobtracker_kit::graphql::subgraph_routes(schema::schema(resumes, config.max_bytes), verifier);
        let routes = match byte_routes {
            Some(bytes) => graphql.merge(bytes),
            None => graphql,
        };
        Ok(routes)
    })
    .await?;
    let sweeper = sweeper.ok_or_else(|| anyhow::anyhow!("files: routes were not built"))?;
    let (every, grace) = (config.sweep_every, config.sweep_grace);
    Ok(app.with_pool_metrics(pool).with_worker("sweeper", move |stop| sweeper.run_sweeper(every, grace, stop)))
}
