//! auth subgraph: accounts, passwords, access and refresh tokens, the
//! signing key and its JWKS document.
//!
//! Routes: `/graphql`, `/health`, `/.well-known/jwks.json`, `/oauth/token`
//! (password and refresh_token grants), and
//! `/internal/accounts/{id}` (service-to-service, not routed publicly and
//! only answered with the `SERVICE_TOKEN` credential: the users subgraph uses
//! it to build a profile it has not yet heard of).

pub mod guard;
pub mod model;
pub mod oauth;
pub mod schema;
pub mod service;
pub mod signing;
pub mod store;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use jobtracker_kit::auth::TokenVerifier;
use jobtracker_kit::config::ServiceConfig;
use jobtracker_kit::db;
use jobtracker_kit::events::Outbox;
use jobtracker_kit::server::ServiceApp;
use jobtracker_kit::service::{ServiceEnv, ServiceSpec};
use jobtracker_kit::service_token::{InternalAccess, ServiceToken, require_service_token};
use serde_json::json;
use uuid::Uuid;

use crate::service::{AuthService, HashGate, LoginThrottle};
use crate::signing::Signer;
use crate::store::Store;

pub use schema::{AuthSchema, schema_builder};

pub const SERVICE: &str = "auth";
pub const DEFAULT_PORT: u16 = 4001;
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/auth");

/// This service in the table of services.
pub const SPEC: ServiceSpec =
    jobtracker_kit::subgraph_spec!(migrations: Some(|| MIGRATIONS), consumes: &[], calls: &[]);

#[derive(Clone, Debug)]
pub struct Config {
    pub service: ServiceConfig,
    pub throttle: LoginThrottle,
    /// Password hashes running at once (as many more may wait); beyond, RATE_LIMITED.
    pub max_concurrent_hashes: usize,
    /// The credential internal calls must carry; `None` refuses them all.
    pub service_token: Option<ServiceToken>,
}

impl Config {
    pub fn load(env: &ServiceEnv) -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let max_concurrent_hashes = env.vars.parse("AUTH_MAX_CONCURRENT_HASHES", 2 * cores)?;
        if max_concurrent_hashes == 0 {
            anyhow::bail!("AUTH_MAX_CONCURRENT_HASHES must be at least 1");
        }
        Ok(Self {
            service: env.service.clone(),
            throttle: LoginThrottle {
                max_failures: env.vars.parse("AUTH_LOGIN_MAX_FAILURES", 5)?,
                window: chrono::Duration::try_seconds(env.vars.parse("AUTH_LOGIN_WINDOW_SECS", 900)?)
                    .filter(|window| *window > chrono::Duration::zero())
                    .ok_or_else(|| anyhow::anyhow!("AUTH_LOGIN_WINDOW_SECS must be a positive number of seconds"))?,
            },
            max_concurrent_hashes,
            service_token: env.service_token.clone(),
        })
    }
}

/// The account service on a migrated database with its signing key (loaded
/// or created), for the service and for `jobtracker seed`.
pub async fn service(config: &Config, outbox: Outbox) -> anyhow::Result<(AuthService, db::Pool)> {
    let pool = db::bootstrap(&config.service.database, MIGRATIONS).await?;
    let store = Store::new(pool.clone(), outbox);
    let signer = Signer::from_row(store.active_signing_key(Signer::generate).await?);
    let hashes = HashGate::new(config.max_concurrent_hashes);
    Ok((AuthService { store, signer, throttle: config.throttle, hashes }, pool))
}

/// Migrates the database, loads (or creates) the signing key and binds.
pub async fn build(config: Config) -> anyhow::Result<ServiceApp> {
    let outbox = Outbox::default();
    let (auth, pool) = service(&config, outbox.clone()).await?;
    let signer = auth.signer.clone();
    let schema = schema_builder().data(auth.clone()).finish();

    let access = InternalAccess::new(SERVICE, config.service_token.clone());
    let internal = axum::Router::new()
        .route("/internal/accounts/{id}", get(internal_account))
        .route_layer(axum::middleware::from_fn_with_state(access, require_service_token));
    let routes = jobtracker_kit::graphql::subgraph_routes(schema, TokenVerifier::new(signer.clone())).merge(
        axum::Router::new()
            .route("/.well-known/jwks.json", get(jwks))
            .route("/oauth/token", axum::routing::post(oauth::token))
            .merge(internal)
            .with_state(auth),
    );
    Ok(ServiceApp::bind(SERVICE, config.service.addr, routes).await?.with_outbox_relay(pool, outbox, &config.service))
}

async fn jwks(State(auth): State<AuthService>) -> impl IntoResponse {
    ([("cache-control", "public, max-age=300")], Json(auth.signer.jwks()))
}

async fn internal_account(State(auth): State<AuthService>, Path(id): Path<Uuid>) -> impl IntoResponse {
    match auth.store.account_by_id(id).await {
        Ok(Some(account)) => Json(json!({
            "id": account.id,
            "email": account.email,
            "fullName": account.full_name,
            "createdAt": account.created_at,
        }))
        .into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(err) => {
            tracing::error!(error = %err, "internal account lookup failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
