//! Serves the offline playground (built by build.rs) on `GET /graphql` when
//! a browser asks for HTML; every other request goes on to Hive.

use hive_router::http::StatusCode;
use hive_router::ntex::http::Response;
use hive_router::plugins::hooks::on_http_request::{OnHttpRequestHookFuture, OnHttpRequestHookPayload};
use hive_router::plugins::hooks::on_plugin_init::{OnPluginInitPayload, OnPluginInitResult};
use hive_router::plugins::plugin_trait::{RouterPlugin, StartHookPayload};

static PLAYGROUND_HTML: &str = include_str!(concat!(env!("OUT_DIR"), "/laboratory.html"));

pub struct PlaygroundPlugin {
    graphql_path: String,
}

#[hive_router::async_trait]
impl RouterPlugin for PlaygroundPlugin {
    type Config = serde_json::Value;

    fn plugin_name() -> &'static str {
        "playground"
    }

    fn on_plugin_init(payload: OnPluginInitPayload<Self>) -> OnPluginInitResult<Self> {
        Ok(Some(Self { graphql_path: payload.router_config().graphql_path().to_string() }))
    }

    fn on_http_request<'req>(&'req self, payload: OnHttpRequestHookPayload<'req>) -> OnHttpRequestHookFuture<'req> {
        Box::pin(async move {
            let request = &payload.router_http_request;
            let wants_html = request
                .headers()
                .get("accept")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"));
            let is_upgrade = request.headers().contains_key("upgrade");
            if request.method() == hive_router::http::Method::GET
                && request.path() == self.graphql_path
                && wants_html
                && !is_upgrade
            {
                let response =
                    Response::build(StatusCode::OK).content_type("text/html; charset=utf-8").body(PLAYGROUND_HTML);
                return payload.end_with_response(response);
            }
            payload.proceed()
        })
    }
}
