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
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use futures::StreamExt;
use jobtracker_kit::rate_limit::TokenBuckets;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::signing::{Grant, Refused};
use crate::storage::LocalStore;
use crate::store::Store;

#[derive(Clone)]
struct Bytes {
    objects: Arc<LocalStore>,
    store: Store,
    buckets: Arc<TokenBuckets>,
}

#[derive(Deserialize)]
struct Signed {
    expires: Option<String>,
    signature: Option<String>,
}

pub fn routes(objects: Arc<LocalStore>, store: Store, buckets: Arc<TokenBuckets>, max_bytes: u64) -> Router {
    Router::new()
        .route("/uploads/{id}", put(upload))
        .route("/downloads/{id}", get(download))
        // Bodies are bounded per upload (its declared size), below this.
        .layer(DefaultBodyLimit::max(usize::try_from(max_bytes).unwrap_or(usize::MAX).saturating_add(1)))
        .with_state(Bytes { objects, store, buckets })
}

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
    /// The shared checks of both routes: the caller's budget, then the signature.
    fn admit(&self, peer: SocketAddr, grant: Grant, id: &str, signed: &Signed) -> Result<Uuid, Box<Response>> {
        if let Err(retry_after) = self.buckets.try_acquire(&format!("ip:{}", peer.ip()), std::time::Instant::now()) {
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
    let id = match state.admit(peer, Grant::Upload, &id, &signed) {
        Ok(id) => id,
        Err(response) => return *response,
    };
    let declared_length = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let file = match state.store.claim_receipt(id).await {
        Ok(Some(file)) => file,
        Ok(None) => return plain(StatusCode::CONFLICT, "this upload URL was used already, or the upload is gone"),
        Err(err) => return internal(err),
    };
    if declared_length.is_some_and(|length| length > file.size_bytes) {
        let _ = state.store.release_receipt(id).await;
        return plain(StatusCode::PAYLOAD_TOO_LARGE, &format!("at most {} bytes were declared", file.size_bytes));
    }
    match receive(&state.objects, &file.upload_key(), body, file.size_bytes).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(refusal) => {
            let _ = state.store.release_receipt(id).await;
            refusal
        }
    }
}

/// Streams the body to a temporary file, at most `limit` bytes, and renames
/// it to `key` only when it arrived whole.
async fn receive(objects: &LocalStore, key: &str, body: Body, limit: u64) -> Result<(), Response> {
    let target = objects.path(key);
    let partial = target.with_extension(format!("part-{}", Uuid::new_v4().simple()));
    let written = async {
        let mut out = tokio::fs::File::create(&partial).await.map_err(internal)?;
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
        out.sync_all().await.map_err(internal)?;
        tokio::fs::rename(&partial, &target).await.map_err(internal)
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
    }
    written
}

#[tracing::instrument(skip_all, fields(file_id = %id))]
async fn download(
    State(state): State<Bytes>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    Query(signed): Query<Signed>,
) -> Response {
    let id = match state.admit(peer, Grant::Download, &id, &signed) {
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
    (headers, Body::from_stream(tokio_util::io::ReaderStream::new(opened))).into_response()
}
