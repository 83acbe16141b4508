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

use crate::auth::{TokenVerifier, Viewer, bearer_token};
use crate::error::AppError;

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
                .expect("static HTTP client configuration"),
        }
    }

    /// The `data` of the answer, or the code of its first error.
    pub async fn query(
        &self,
        token: &str,
        query: &str,
        variables: serde_json::Value,
    ) -> Result<Result<serde_json::Value, String>, AppError> {
        let body: serde_json::Value = self
            .http
            .post(&self.url)
            .bearer_auth(token)
            .json(&serde_json::json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(AppError::internal)?
            .json()
            .await
            .map_err(AppError::internal)?;
        match body["errors"][0]["extensions"]["code"].as_str() {
            None if body["data"].is_object() => Ok(Ok(body["data"].clone())),
            Some(code) => Ok(Err(code.to_string())),
            None => Err(AppError::internal(anyhow::anyhow!("{} answered {body}", self.url))),
        }
    }
}
