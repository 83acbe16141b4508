//! Authentication is optional at the router (anonymous `register`, `login`
//! and a null `me` must work), and Hive then treats an invalid token as
//! absent. Our contract is stricter: a token that is present but invalid
//! (bad signature, expired, `alg: none`, wrong issuer) is refused with
//! UNAUTHENTICATED before anything executes. Hive's own JWT error codes are
//! mapped to UNAUTHENTICATED too.

use hive_router::http::StatusCode;
use hive_router::plugins::hooks::on_graphql_error::{OnGraphQLErrorHookPayload, OnGraphQLErrorHookResult};
use hive_router::plugins::hooks::on_plugin_init::{OnPluginInitPayload, OnPluginInitResult};
use hive_router::plugins::hooks::on_query_plan::{OnQueryPlanStartHookPayload, OnQueryPlanStartHookResult};
use hive_router::plugins::plugin_trait::{RouterPlugin, StartHookPayload};

use super::graphql_error;

/// Hive's JWT error codes (hive_router::jwt::errors).
const HIVE_JWT_CODES: &[&str] = &[
    "MISSING_JWT",
    "INVALID_JWT",
    "JWT_NOT_SUPPORTED",
    "INVALID_JWT_HEADER",
    "JWK_ALGORITHM_NOT_SUPPORTED",
    "JWT_LOOKUP_FAILED",
];

pub struct TokenGatePlugin;

#[hive_router::async_trait]
impl RouterPlugin for TokenGatePlugin {
    type Config = serde_json::Value;

    fn plugin_name() -> &'static str {
        "token_gate"
    }

    fn on_plugin_init(_payload: OnPluginInitPayload<Self>) -> OnPluginInitResult<Self> {
        Ok(Some(Self))
    }

    async fn on_query_plan<'exec>(
        &'exec self,
        payload: OnQueryPlanStartHookPayload<'exec>,
    ) -> OnQueryPlanStartHookResult<'exec> {
        let token_sent = payload.router_http_request.headers.contains_key("authorization");
        let verified = payload
            .request_context
            .read()
            .ok()
            .and_then(|ctx| ctx.authentication().jwt_status().copied())
            .unwrap_or(false);
        if token_sent && !verified {
            return payload.end_with_graphql_error(
                graphql_error("invalid or expired access token", "UNAUTHENTICATED"),
                StatusCode::UNAUTHORIZED,
            );
        }
        payload.proceed()
    }

    fn on_graphql_error<'req>(
        &'req self,
        mut payload: OnGraphQLErrorHookPayload<'req>,
    ) -> OnGraphQLErrorHookResult<'req> {
        if payload.error.extensions.code.as_deref().is_some_and(|code| HIVE_JWT_CODES.contains(&code)) {
            payload.error.extensions.code = Some("UNAUTHENTICATED".into());
            payload.error.message = "invalid or expired access token".into();
            payload.status_code = StatusCode::UNAUTHORIZED;
        }
        payload.proceed()
    }
}
