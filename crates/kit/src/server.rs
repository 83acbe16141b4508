//! Running a service: bind (port 0 in tests), then serve until a shutdown
//! token fires. In-flight requests finish; background workers (outbox relay,
//! consumers) get the same token and stop cleanly.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::ServiceConfig;
use crate::db::Pool;
use crate::events::{Outbox, OutboxRelay};
use crate::metrics::{self, Sampler};

type Worker = Box<dyn FnOnce(CancellationToken) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>> + Send>;

/// A bound, not yet running service.
pub struct ServiceApp {
    name: &'static str,
    listener: TcpListener,
    routes: axum::Router,
    workers: Vec<(&'static str, Worker)>,
    /// Token of tasks the service spawned at build time (e.g. fanout).
    background: CancellationToken,
    /// Gauges refreshed when `/metrics` is scraped.
    samplers: Vec<Sampler>,
}

impl ServiceApp {
    pub async fn bind(name: &'static str, addr: SocketAddr, routes: axum::Router) -> anyhow::Result<Self> {
        Self::bind_with(name, addr, async |_| Ok(routes)).await
    }

    /// Like `bind`, for routes that need to know where they are served
    /// (e.g. to hand out URLs to themselves when bound to port 0).
    pub async fn bind_with<F>(name: &'static str, addr: SocketAddr, routes: F) -> anyhow::Result<Self>
    where
        F: AsyncFnOnce(SocketAddr) -> anyhow::Result<axum::Router>,
    {
        let listener =
            TcpListener::bind(addr).await.map_err(|err| anyhow::anyhow!("{name}: cannot listen on {addr}: {err}"))?;
        let local = listener.local_addr()?;
        let routes = routes(local).await?;
        Ok(Self {
            name,
            listener,
            routes,
            workers: Vec::new(),
            background: CancellationToken::new(),
            samplers: Vec::new(),
        })
    }

    /// Adds a background worker started with the server.
    pub fn with_worker<F, Fut>(mut self, name: &'static str, worker: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.workers.push((name, Box::new(move |token| Box::pin(worker(token)))));
        self
    }

    /// Runs the relay that publishes `outbox`'s rows (written through
    /// `pool`'s database) until the service stops: the one wiring of every
    /// service that writes events.
    /// Its backlog and the pool are sampled for `/metrics`.
    pub fn with_outbox_relay(mut self, pool: Pool, outbox: Outbox, service: &ServiceConfig) -> Self {
        self.samplers.push(metrics::outbox_sampler(self.name, pool.clone()));
        let mut relay = OutboxRelay::new(pool.clone(), service.bus.clone(), outbox).with_settings(&service.events);
        relay.service = self.name;
        self.with_pool_metrics(pool).with_worker("outbox-relay", move |token| relay.run(token))
    }

    /// Exposes the use of the service's database pool in `/metrics`.
    pub fn with_pool_metrics(mut self, pool: Pool) -> Self {
        self.samplers.push(metrics::pool_sampler(self.name, pool));
        self
    }

    /// Ties tasks spawned while building to the service's lifetime.
    pub fn with_background(mut self, token: CancellationToken) -> Self {
        self.background = token;
        self
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        // checked: a bound TCP listener always has a local address.
        self.listener.local_addr().expect("bound listener has an address")
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let addr = self.local_addr();
        tracing::info!(service = self.name, %addr, "listening");
        let workers_token = CancellationToken::new();
        let workers: Vec<_> = self
            .workers
            .into_iter()
            .map(|(name, worker)| (name, tokio::spawn(worker(workers_token.clone()))))
            .collect();
        let server_shutdown = shutdown.clone();
        let name = self.name;
        let routes = self
            .routes
            .merge(metrics::route(name, self.samplers))
            .route_layer(axum::middleware::from_fn(move |request, next| metrics::track_requests(name, request, next)))
            .route_layer(axum::middleware::from_fn(crate::trace::layer));
        // Connection info lets handlers key rate limits by client address.
        let service = routes.into_make_service_with_connect_info::<SocketAddr>();
        // Without TCP_NODELAY a push written right after another waits for the
        // peer's delayed ACK (up to 40 ms): pushes and small answers go at once.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::debug!(error = %err, "TCP_NODELAY not set");
            }
        });
        let served = axum::serve(listener, service)
            .with_graceful_shutdown(async move { server_shutdown.cancelled().await })
            .await;
        workers_token.cancel();
        self.background.cancel();
        for (name, handle) in workers {
            match handle.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    tracing::error!(service = self.name, worker = name, error = format!("{err:#}"), "worker failed")
                }
                Err(err) => tracing::error!(service = self.name, worker = name, error = %err, "worker panicked"),
            }
        }
        tracing::info!(service = self.name, "stopped");
        served.map_err(Into::into)
    }
}

/// Cancels the returned token on Ctrl-C or SIGTERM.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            // checked: fails only if the process cannot install signal handlers at start-up.
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("installing the SIGTERM handler");
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutdown requested");
        trigger.cancel();
    });
    token
}
