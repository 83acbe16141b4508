//! The gate every request to the GraphQL path passes first, whatever its
//! transport:
//!
//! 1. Identity: a bearer token is verified here (see `identity`); a token
//!    that is present but invalid is refused with 401 UNAUTHENTICATED before
//!    anything executes (Hive would treat it as absent), and while the
//!    signing keys are not loaded yet, 503 with `Retry-After`.
//! 2. Rate limit: one token bucket per verified subject, else per client
//!    address; over it, 429 with `Retry-After` and RATE_LIMITED.
//! 3. WebSocket upgrades are taken over by `ws_gate`, which applies the same
//!    identity and the same buckets to every message, and bounds
//!    subscriptions in all and per user.
//! 4. Before Hive parses anything: bodies and documents nested deeper than
//!    a legitimate request are refused (a deep one overflows a worker's
//!    stack), and so is more than one credential mutation per request
//!    (`document`).
//! 5. Errors leaving the router carry only our contract's codes (`errors`).
//!
//! Every path is gated (Hive serves GraphQL under `/graphql/…` too) except
//! the health probes.

use std::sync::Arc;
use std::time::Instant;

use hive_router::http::StatusCode;
use hive_router::ntex::http::Response;
use hive_router::ntex::http::body::{Body, BodySize, MessageBody, ResponseBody};
use hive_router::ntex::http::header::{HeaderName, HeaderValue};
use hive_router::plugins::hooks::on_execute::{OnExecuteStartHookPayload, OnExecuteStartHookResult};
use hive_router::plugins::hooks::on_graphql_error::{OnGraphQLErrorHookPayload, OnGraphQLErrorHookResult};
use hive_router::plugins::hooks::on_graphql_params::{OnGraphQLParamsStartHookPayload, OnGraphQLParamsStartHookResult};
use hive_router::plugins::hooks::on_http_request::{OnHttpRequestHookFuture, OnHttpRequestHookPayload};
use hive_router::plugins::hooks::on_plugin_init::{OnPluginInitPayload, OnPluginInitResult};
use hive_router::plugins::hooks::on_query_plan::{OnQueryPlanStartHookPayload, OnQueryPlanStartHookResult};
use hive_router::plugins::plugin_trait::{EndHookPayload, RouterPlugin, StartHookPayload};
use jobtracker_kit::trace::{self, TraceContext};
use serde::Deserialize;

use super::document::{self, MAX_JSON_NESTING, MAX_NESTING};
use super::rate_limit::{RateLimitConfig, RateLimiter};
use super::ws_gate::{OverBudget, RELAY_HEADER, SubscriptionBudget, SubscriptionSlot, WsGate};
use super::{error_body, errors, graphql_error, metrics};
use crate::identity::{Caller, Identity};

#[derive(Clone, Debug, Deserialize)]
pub struct GateConfig {
    #[serde(flatten)]
    pub rate_limit: RateLimitConfig,
    /// Where the auth service publishes its public keys.
    pub jwks_url: String,
    /// WebSocket client connections held open at once.
    pub max_websockets: usize,
    /// Operations (subscriptions) open at once over WebSockets, in all and per user.
    pub max_subscriptions: usize,
    pub max_subscriptions_per_user: usize,
    /// Production mode: messages of requests refused before execution are masked.
    #[serde(default)]
    pub mask_request_errors: bool,
}

pub struct GatePlugin {
    graphql_path: String,
    identity: Identity,
    limiter: Arc<RateLimiter>,
    websockets: Arc<WsGate>,
}

fn refusal(status: StatusCode, message: &str, code: &str, retry_after: Option<u64>) -> Response {
    metrics::client_error(code);
    let mut error = graphql_error(message, code);
    let mut response = Response::build(status);
    response.content_type("application/json");
    if let Some(seconds) = retry_after {
        error.extensions.set("retryAfter".into(), seconds.into());
        response.header("retry-after", seconds.to_string());
    }
    response.body(error_body(vec![error]))
}

#[hive_router::async_trait]
impl RouterPlugin for GatePlugin {
    type Config = GateConfig;

    fn plugin_name() -> &'static str {
        "gate"
    }

    fn on_plugin_init(payload: OnPluginInitPayload<Self>) -> OnPluginInitResult<Self> {
        let config = payload.config()?;
        errors::mask_request_errors(config.mask_request_errors);
        if config.rate_limit.per_second <= 0.0 || config.rate_limit.burst < 1.0 {
            return Err("gate: per_second must be > 0 and burst >= 1".into());
        }
        let router = payload.router_config();
        let graphql_path = router.graphql_path().to_string();
        let host = match router.host().as_str() {
            "0.0.0.0" | "::" | "[::]" => "127.0.0.1".to_string(),
            host => host.to_string(),
        };
        let identity = Identity::start(config.jwks_url.clone());
        let limiter = Arc::new(RateLimiter::new(config.rate_limit.clone()));
        let websockets = Arc::new(WsGate::new(
            format!("ws://{host}:{}{graphql_path}", router.port()),
            identity.clone(),
            limiter.clone(),
            config.max_websockets,
            SubscriptionBudget::new(config.max_subscriptions, config.max_subscriptions_per_user),
        ));
        Ok(Some(Self { graphql_path, identity, limiter, websockets }))
    }

    fn on_http_request<'req>(&'req self, mut payload: OnHttpRequestHookPayload<'req>) -> OnHttpRequestHookFuture<'req> {
        Box::pin(async move {
            if HEALTH_PROBES.contains(&payload.router_http_request.path()) {
                return payload.proceed();
            }
            let trace = continue_trace(&mut payload.router_http_request);
            let request = &payload.router_http_request;
            let headers = request.headers();
            let address_key = self.limiter.address_key(headers, request.peer_addr().map(|a| a.ip()));
            let is_upgrade = headers
                .get("upgrade")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
            if is_upgrade && request.path() == self.graphql_path {
                if self.websockets.is_relay(headers.get(RELAY_HEADER).and_then(|v| v.to_str().ok())) {
                    return payload.proceed();
                }
                // Connecting is charged at connection_init, to the subject it names.
                let OnHttpRequestHookPayload { router_http_request, context, request_context } = payload;
                let (router_http_request, response) = self.websockets.accept(router_http_request, address_key).await;
                let payload = OnHttpRequestHookPayload { router_http_request, context, request_context };
                return match response {
                    Some(response) => payload.end_with_response(response),
                    None => payload.proceed(),
                };
            }

            let authorization = headers.get("authorization").map(|v| v.to_str().unwrap_or("invalid"));
            let caller = self.identity.caller(authorization).await;
            let key = caller.subject_key().unwrap_or(address_key);
            if let Err(retry_after) = self.limiter.try_acquire(&key, Instant::now()) {
                return payload.end_with_response(too_many(retry_after, "http"));
            }
            // A stream (SSE, multipart) holds a subscription slot of the
            // caller's until its body ends.
            let mut stream_slot = None;
            if accepts_stream(headers) && matches!(caller, Caller::Anonymous | Caller::User(_)) {
                match self.websockets.budget.reserve(&key) {
                    Ok(slot) => stream_slot = Some(slot),
                    Err(over) => {
                        let message = over.message();
                        let response = refusal(
                            StatusCode::TOO_MANY_REQUESTS,
                            &message,
                            "RATE_LIMITED",
                            Some(OverBudget::RETRY_AFTER),
                        );
                        return payload.end_with_response(response);
                    }
                }
            }
            match caller {
                // The client learns the trace id of its request (support can find its log lines).
                Caller::Anonymous | Caller::User(_) => payload.on_end(move |mut end| {
                    if let Ok(value) = HeaderValue::from_str(&trace.header()) {
                        end.response.headers_mut().insert(HeaderName::from_static(trace::HEADER), value);
                    }
                    if let Some(slot) = stream_slot {
                        end.response = end.response.map_body(|_, body| {
                            ResponseBody::Other(Body::from_message(HoldingSlot { body, _slot: slot }))
                        });
                    }
                    end.proceed()
                }),
                Caller::Refused => payload.end_with_response(refusal(
                    StatusCode::UNAUTHORIZED,
                    "invalid or expired access token",
                    "UNAUTHENTICATED",
                    None,
                )),
                Caller::KeysUnavailable => payload.end_with_response(refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "authentication is starting up, retry shortly",
                    "INTERNAL",
                    Some(1),
                )),
            }
        })
    }

    async fn on_graphql_params<'exec>(
        &'exec self,
        payload: OnGraphQLParamsStartHookPayload<'exec>,
    ) -> OnGraphQLParamsStartHookResult<'exec> {
        if document::json_nesting(&payload.body) > MAX_JSON_NESTING {
            return payload.end_with_response(bad_input(&format!("JSON nested deeper than {MAX_JSON_NESTING} levels")));
        }
        payload.on_end(|end| {
            let query = end.graphql_params.query.as_deref().unwrap_or_default();
            if document::graphql_nesting(query) > MAX_NESTING {
                return end.end_with_response(bad_input(&format!("document nested deeper than {MAX_NESTING} levels")));
            }
            end.proceed()
        })
    }

    async fn on_query_plan<'exec>(
        &'exec self,
        payload: OnQueryPlanStartHookPayload<'exec>,
    ) -> OnQueryPlanStartHookResult<'exec> {
        if document::credential_mutations(payload.filtered_operation_for_plan) > 1 {
            let mut error =
                graphql_error("at most one of register, login and refreshToken per request", "BAD_USER_INPUT");
            error.extensions.set("field".into(), "mutation".into());
            return payload.end_with_graphql_error(error, StatusCode::OK);
        }
        payload.proceed()
    }

    async fn on_execute<'exec>(
        &'exec self,
        payload: OnExecuteStartHookPayload<'exec>,
    ) -> OnExecuteStartHookResult<'exec> {
        payload.on_end(|mut end| {
            end.errors.iter_mut().for_each(|error| errors::to_contract(error, errors::Stage::Execution));
            end.proceed()
        })
    }

    fn on_graphql_error<'req>(
        &'req self,
        mut payload: OnGraphQLErrorHookPayload<'req>,
    ) -> OnGraphQLErrorHookResult<'req> {
        errors::to_contract(&mut payload.error, errors::Stage::Pipeline);
        payload.proceed()
    }
}

/// The request's trace: the client's `traceparent` continued with a span of
/// the router's, else a new trace; written back into the request so that
/// header propagation hands it to every subgraph fetch.
fn continue_trace(
    request: &mut hive_router::ntex::web::WebRequest<hive_router::ntex::web::DefaultError>,
) -> TraceContext {
    let incoming = request.headers().get(trace::HEADER).and_then(|v| v.to_str().ok());
    let context = TraceContext::continue_from(incoming);
    if let Ok(value) = HeaderValue::from_str(&context.header()) {
        request.headers_mut().insert(HeaderName::from_static(trace::HEADER), value);
    }
    tracing::debug!(trace_id = %context.trace_id, path = request.path(), "request");
    context
}

/// A streamed response's body, holding the stream's subscription slot
/// until the body ends or the client goes.
struct HoldingSlot {
    body: ResponseBody<Body>,
    _slot: SubscriptionSlot,
}

impl MessageBody for HoldingSlot {
    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next_chunk(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hive_router::ntex::util::Bytes, std::rc::Rc<dyn std::error::Error>>>> {
        self.body.poll_next_chunk(cx)
    }
}

/// Whether the client asks for a stream (GraphQL over SSE or multipart).
fn accepts_stream(headers: &hive_router::ntex::http::HeaderMap) -> bool {
    headers.get_all("accept").filter_map(|v| v.to_str().ok()).any(|accept| {
        let accept = accept.to_ascii_lowercase();
        accept.contains("text/event-stream") || accept.contains("multipart/mixed")
    })
}

/// Probes answer without a token bucket (orchestrators poll them).
const HEALTH_PROBES: &[&str] = &["/health", "/readiness"];

fn bad_input(message: &str) -> Response {
    refusal(StatusCode::BAD_REQUEST, message, "BAD_USER_INPUT", None)
}

fn too_many(retry_after: u64, transport: &'static str) -> Response {
    metrics::rate_limited(transport);
    refusal(StatusCode::TOO_MANY_REQUESTS, "too many requests, slow down", "RATE_LIMITED", Some(retry_after))
}
