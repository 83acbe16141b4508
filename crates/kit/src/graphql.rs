//! The HTTP surface every subgraph shares: `POST /graphql` (queries and
//! mutations, the caller's token verified again here: never trust a header
//! from outside), `GET /ws` (graphql-transport-ws, token from
//! `connection_init`), and `GET /health`.

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{BatchResponse, Context, Data, Executor};
use async_graphql_axum::{GraphQLBatchRequest, GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::Router;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::auth::{TokenVerifier, Viewer, bearer_token};
use crate::error::{AppError, ErrorCode};

#[derive(Clone)]
struct SubgraphState<E> {
    executor: E,
    verifier: TokenVerifier,
}

/// The routes of a subgraph around its executable schema.
pub fn subgraph_routes<E: Executor + Clone>(executor: E, verifier: TokenVerifier) -> Router {
    Router::new()
        .route("/graphql", post(graphql_handler::<E>))
        .route("/ws", get(websocket_handler::<E>))
        .route("/health", get(|| async { "ok" }))
        .with_state(SubgraphState { executor, verifier })
}

/// Resolves the caller from an `Authorization` value: `None` when absent
/// (anonymous), an error when present but not a valid token.
pub async fn viewer_from_authorization(
    verifier: &TokenVerifier,
    value: Option<&str>,
) -> Result<Option<Viewer>, AppError> {
    let Some(value) = value else { return Ok(None) };
    let token =
        bearer_token(value).ok_or_else(|| AppError::Unauthenticated("Authorization must be a Bearer token".into()))?;
    verifier.verify(token).await.map(Some)
}

async fn graphql_handler<E: Executor>(
    State(state): State<SubgraphState<E>>,
    headers: HeaderMap,
    request: GraphQLBatchRequest,
) -> GraphQLResponse {
    let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    match viewer_from_authorization(&state.verifier, authorization).await {
        Ok(viewer) => {
            let mut request = request.into_inner();
            if let Some(viewer) = viewer {
                let token = authorization.and_then(bearer_token).unwrap_or_default().to_string();
                request = request.data(viewer).data(BearerToken(token));
            }
            let mut answer = state.executor.execute_batch(request).await;
            match &mut answer {
                BatchResponse::Single(response) => label_input_errors(response),
                BatchResponse::Batch(responses) => responses.iter_mut().for_each(label_input_errors),
            }
            answer.into()
        }
        Err(err) => {
            let error = async_graphql::Error::from(err).into_server_error(Default::default());
            async_graphql::Response::from_errors(vec![error]).into()
        }
    }
}

/// Every error of ours carries a contract code (`AppError`); one without a
/// code was raised by async-graphql itself while reading the request (a
/// value that does not parse as its scalar, a wrong argument), so it is the
/// client's input. The router masks anything uncoded as INTERNAL.
fn label_input_errors(response: &mut async_graphql::Response) {
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", "BAD_USER_INPUT");
        }
    }
}

async fn websocket_handler<E: Executor + Clone>(
    State(state): State<SubgraphState<E>>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> impl IntoResponse {
    upgrade.protocols(ALL_WEBSOCKET_PROTOCOLS).on_upgrade(move |stream| {
        let verifier = state.verifier.clone();
        GraphQLWebSocket::new(stream, state.executor, protocol)
            .on_connection_init(move |payload| async move {
                let authorization = payload
                    .as_object()
                    .and_then(|fields| fields.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")))
                    .and_then(|(_, v)| v.as_str().map(str::to_owned));
                let mut data = Data::default();
                if let Some(viewer) = viewer_from_authorization(&verifier, authorization.as_deref()).await? {
                    let token = authorization.as_deref().and_then(bearer_token).unwrap_or_default().to_string();
                    data.insert(viewer);
                    data.insert(BearerToken(token));
                }
                Ok(data)
            })
            .serve()
    })
}

/// The caller's verified access token, for calls to other services made on
/// the caller's behalf (they check it themselves).
#[derive(Clone, Debug)]
pub struct BearerToken(pub String);

/// The signed-in caller, or UNAUTHENTICATED.
pub fn require_viewer(ctx: &Context<'_>) -> Result<Viewer, AppError> {
    ctx.data_opt::<Viewer>().copied().ok_or_else(AppError::unauthenticated)
}

/// The caller when signed in.
pub fn optional_viewer(ctx: &Context<'_>) -> Option<Viewer> {
    ctx.data_opt::<Viewer>().copied()
}

/// Another subgraph's GraphQL endpoint, called on the caller's behalf with
/// the caller's own token, so that subgraph's privacy rules decide.
#[derive(Clone)]
pub struct SubgraphClient {
    url: String,
    http: reqwest::Client,
}

impl SubgraphClient {
    /// `timeout` bounds the whole call (`SUBGRAPH_TIMEOUT_SECS`): a hung
    /// subgraph fails the caller's request instead of holding it.
    pub fn new(base_url: &str, timeout: std::time::Duration) -> Self {
        Self {
            url: format!("{}/graphql", base_url.trim_end_matches('/')),
            http: reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout.min(std::time::Duration::from_secs(2)))
                .build()
                // checked: a fixed builder configuration, no input reaches it.
                .expect("static HTTP client configuration"),
        }
    }

    /// The `data` of the answer as `T`. An answer with errors is
    /// [`UpstreamError::Refused`] with the code of its first error; one that
    /// is not a GraphQL answer, carries a code outside the contract, or whose
    /// `data` is not a `T` (a field missing, null where a value is due) is
    /// [`UpstreamError::Failed`]: another service's answer is never patched
    /// up with defaults.
    pub async fn query<T: DeserializeOwned>(
        &self,
        token: &str,
        query: &str,
        variables: serde_json::Value,
    ) -> Result<T, UpstreamError> {
        let failed = |err: anyhow::Error| UpstreamError::Failed(err.context(format!("calling {}", self.url)));
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(token)
            .headers(crate::trace::outgoing_headers())
            .json(&serde_json::json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(|err| failed(err.into()))?;
        let status = response.status();
        let answer: Answer = response
            .json()
            .await
            .map_err(|err| failed(anyhow::Error::new(err).context(format!("HTTP {status}, not a GraphQL answer"))))?;
        if let Some(error) = answer.errors.into_iter().next() {
            let code = error.extensions.and_then(|e| e.code);
            return match code.as_deref().and_then(ErrorCode::parse) {
                Some(code) => Err(UpstreamError::Refused { code, message: error.message }),
                None => Err(failed(anyhow::anyhow!("error without a known code ({code:?}): {}", error.message))),
            };
        }
        let data = answer.data.ok_or_else(|| failed(anyhow::anyhow!("an answer with neither data nor errors")))?;
        serde_json::from_value(data).map_err(|err| failed(anyhow::Error::new(err).context("unexpected data")))
    }
}

/// A GraphQL answer, before its `data` is read as what was asked for.
#[derive(Deserialize)]
struct Answer {
    data: Option<serde_json::Value>,
    #[serde(default)]
    errors: Vec<AnswerError>,
}

#[derive(Deserialize)]
struct AnswerError {
    #[serde(default)]
    message: String,
    extensions: Option<AnswerExtensions>,
}

#[derive(Deserialize)]
struct AnswerExtensions {
    code: Option<String>,
}

/// Why a call to another subgraph gave no data.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The subgraph answered with an error of the contract (e.g. NOT_FOUND
    /// for another user's application): callers match on `code`.
    #[error("the subgraph answered {code}: {message}")]
    Refused { code: ErrorCode, message: String },
    /// Unreachable, timed out, or an answer that is not what was asked for.
    #[error(transparent)]
    Failed(anyhow::Error),
}

impl UpstreamError {
    /// The contract code of the answer; INTERNAL when there was none.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Refused { code, .. } => *code,
            Self::Failed(_) => ErrorCode::Internal,
        }
    }
}

/// What the caller's client sees when an upstream call fails and the caller
/// has no better answer: the subgraph refusing the caller's own token is
/// the caller's UNAUTHENTICATED; anything else is our fault, INTERNAL (the
/// cause logged, never shown).
impl From<UpstreamError> for AppError {
    fn from(err: UpstreamError) -> Self {
        match err {
            UpstreamError::Refused { code: ErrorCode::Unauthenticated, .. } => {
                AppError::Unauthenticated("the session expired; sign in again".into())
            }
            other => AppError::internal(other),
        }
    }
}
