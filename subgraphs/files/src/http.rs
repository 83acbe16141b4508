//! The local backend's byte routes, reached through the signed URLs that
//! `createResumeUpload` and `File.downloadUrl` hand out:
//!
//! - `PUT /uploads/{id}?expires&signature`: the one PUT of a pending upload,
//!   at most its declared size (more is 413 and nothing is kept), written
//!   to a temporary file and renamed into place only when whole;
//! - `GET /downloads/{id}?expires&signature`: an attached résumé, as an
//!   attachment with its stored name and type.
//!
//! A missing, altered or expired signature is 403; a file that is gone, 404.
//! Both draw from a per-address token bucket like every other operation.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use futures::StreamExt;
use jobtracker_kit::rate_limit::{TokenBuckets, address_key};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tower_http::cors::{AllowOrigin, CorsLayer};
use uuid::Uuid;

use crate::signing::{Grant, Refused};
use crate::storage::{LocalStore, ObjectStore};
use crate::store::Store;

#[derive(Clone)]
struct Bytes {
    objects: Arc<LocalStore>,
    store: Store,
    buckets: Arc<TokenBuckets>,
    trust_forwarded_for: bool,
}

/// How the byte routes meet their clients.
#[derive(Clone, Debug)]
pub struct ByteRoutes {
    pub rate: jobtracker_kit::rate_limit::BucketSize,
    /// `FILES_TRUST_FORWARDED_FOR`.
    pub trust_forwarded_for: bool,
    /// `CORS_ALLOW_ORIGINS`: browsers PUT and GET from the app's origin.
    pub cors_origins: Vec<String>,
}

#[derive(Deserialize)]
struct Signed {
    expires: Option<String>,
    signature: Option<String>,
}

pub fn routes(objects: Arc<LocalStore>, store: Store, settings: &ByteRoutes, max_bytes: u64) -> Router {
    let buckets = Arc::new(TokenBuckets::new(settings.rate));
    Router::new()
        .route("/uploads/{id}", put(upload))
        .route("/downloads/{id}", get(download))
        // Bodies are bounded per upload (its declared size), below this.
        .layer(DefaultBodyLimit::max(usize::try_from(max_bytes).unwrap_or(usize::MAX).saturating_add(1)))
        .layer(cors(&settings.cors_origins))
        .with_state(Bytes { objects, store, buckets, trust_forwarded_for: settings.trust_forwarded_for })
}

/// Browsers at the app's origin may PUT (with its Content-Type) and GET;
/// URLs carry their own credential, so no cookies are involved.
fn cors(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::PUT])
        .allow_headers([header::CONTENT_TYPE])
        .expose_headers([header::CONTENT_DISPOSITION, header::CONTENT_LENGTH])
        .max_age(std::time::Duration::from_secs(3600));
    if origins.iter().any(|o| o == "*") {
        return layer.allow_origin(AllowOrigin::any());
    }
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    layer.allow_origin(AllowOrigin::list(origins))
}

const DOWNLOAD_CHUNK: usize = 256 * 1024;

fn plain(status: StatusCode, text: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{text}\n")).into_response()
}

fn forbidden(refused: Refused) -> Response {
    plain(StatusCode::FORBIDDEN, &refused.to_string())
}

fn internal(err: impl std::fmt::Display) -> Response {
    tracing::error!(error = %err, "serving file bytes");
    plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

impl Bytes {
    /// The caller's address: the first `X-Forwarded-For` hop behind a
    /// trusted proxy (`FILES_TRUST_FORWARDED_FOR`), else the peer's.
    fn client_key(&self, headers: &HeaderMap, peer: SocketAddr) -> String {
        let forwarded =
            self.trust_forwarded_for.then(|| headers.get("x-forwarded-for").and_then(|v| v.to_str().ok())).flatten();
        address_key(forwarded, Some(peer.ip()))
    }

    /// The shared checks of both routes: the caller's budget, then the signature.
    fn admit(
        &self,
        headers: &HeaderMap,
        peer: SocketAddr,
        grant: Grant,
        id: &str,
        signed: &Signed,
    ) -> Result<Uuid, Box<Response>> {
        if let Err(retry_after) = self.buckets.try_acquire(&self.client_key(headers, peer), std::time::Instant::now()) {
            let mut response = plain(StatusCode::TOO_MANY_REQUESTS, "too many requests, slow down");
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            return Err(Box::new(response));
        }
        let id = Uuid::parse_str(id).map_err(|_| Box::new(plain(StatusCode::NOT_FOUND, "no such file")))?;
        let signer = self.objects.signer();
        signer
            .verify(grant, id, signed.expires.as_deref(), signed.signature.as_deref(), chrono::Utc::now())
            .map_err(|refused| Box::new(forbidden(refused)))?;
        Ok(id)
    }
}

#[tracing::instrument(skip_all, fields(file_id = %id))]
async fn upload(
    State(state): State<Bytes>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    Query(signed): Query<Signed>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let id = match state.admit(&headers, peer, Grant::Upload, &id, &signed) {
        Ok(id) => id,
        Err(response) => return *response,
    };
    let declared_length = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let file = match state.store.claim_receipt(id).await {
        Ok(Some(file)) => file,
        Ok(None) => return plain(StatusCode::CONFLICT, "this upload URL was used already, or the upload is gone"),
        Err(err) => return internal(err),
    };
    let mut receipt = Receipt { store: state.store.clone(), id, partial: state.objects.partial_path(), whole: false };
    if declared_length.is_some_and(|length| length > file.size_bytes) {
        return plain(StatusCode::PAYLOAD_TOO_LARGE, &format!("at most {} bytes were declared", file.size_bytes));
    }
    // The bytes must be in by the URL's expiry: a trickling client holds
    // nothing past it (the sweeper may take the row soon after).
    let window = (file.upload_expires_at - chrono::Utc::now()).to_std().unwrap_or_default();
    let received = tokio::time::timeout(window, receive(&receipt.partial, body, file.size_bytes)).await;
    match received {
        Err(_) => return plain(StatusCode::REQUEST_TIMEOUT, "the upload URL expired before the bytes arrived"),
        Ok(Err(refusal)) => return refusal,
        Ok(Ok(())) => {}
    }
    let key = file.upload_key();
    if let Err(err) = tokio::fs::rename(&receipt.partial, state.objects.path(&key)).await {
        return internal(err);
    }
    receipt.whole = true;
    // Swept while the bytes were arriving: keep nothing without a row.
    match state.store.is_pending(id).await {
        Ok(true) => StatusCode::OK.into_response(),
        Ok(false) => {
            let _ = state.objects.delete(&key).await;
            plain(StatusCode::NOT_FOUND, "the upload is gone")
        }
        Err(err) => internal(err),
    }
}

/// A claimed PUT; unless its bytes arrived whole it is undone however the
/// request ended (an error, the deadline, or the client going away, which
/// drops the handler mid-body): the partial file deleted, the claim released.
struct Receipt {
    store: Store,
    id: Uuid,
    partial: std::path::PathBuf,
    whole: bool,
}

impl Drop for Receipt {
    fn drop(&mut self) {
        if self.whole {
            return;
        }
        let _ = std::fs::remove_file(&self.partial);
        let (store, id) = (self.store.clone(), self.id);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(err) = store.release_receipt(id).await {
                    tracing::warn!(file_id = %id, error = %err, "could not release an interrupted upload");
                }
            });
        }
    }
}

/// Streams the body to `partial`, at most `limit` bytes.
async fn receive(partial: &std::path::Path, body: Body, limit: u64) -> Result<(), Response> {
    let mut out = tokio::fs::File::create(partial).await.map_err(internal)?;
    let mut stream = body.into_data_stream();
    let mut received: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| plain(StatusCode::BAD_REQUEST, "the upload was interrupted"))?;
        received = received.saturating_add(chunk.len() as u64);
        if received > limit {
            return Err(plain(StatusCode::PAYLOAD_TOO_LARGE, &format!("at most {limit} bytes were declared")));
        }
        out.write_all(&chunk).await.map_err(internal)?;
    }
    out.sync_all().await.map_err(internal)
}

#[tracing::instrument(skip_all, fields(file_id = %id))]
async fn download(
    State(state): State<Bytes>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    Query(signed): Query<Signed>,
    headers: HeaderMap,
) -> Response {
    let id = match state.admit(&headers, peer, Grant::Download, &id, &signed) {
        Ok(id) => id,
        Err(response) => return *response,
    };
    let file = match state.store.attached(id).await {
        Ok(Some(file)) => file,
        Ok(None) => return plain(StatusCode::NOT_FOUND, "no such file"),
        Err(err) => return internal(err),
    };
    let opened = match tokio::fs::File::open(state.objects.path(&file.resume_key())).await {
        Ok(opened) => opened,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return plain(StatusCode::NOT_FOUND, "no such file"),
        Err(err) => return internal(err),
    };
    let headers = [
        (header::CONTENT_TYPE, file.kind.content_type().to_string()),
        (header::CONTENT_DISPOSITION, file.content_disposition()),
        (header::CONTENT_LENGTH, file.size_bytes.to_string()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        (header::CACHE_CONTROL, "private, no-store".to_string()),
    ];
    // Large reads: the default 4 KiB chunks cost a third of the throughput.
    let stream = tokio_util::io::ReaderStream::with_capacity(opened, DOWNLOAD_CHUNK);
    (headers, Body::from_stream(stream)).into_response()
}
