//! graphql-transport-ws clients authenticate in `connection_init`, which
//! Hive Router acknowledges before looking at any token. This plugin takes
//! WebSocket upgrades on the GraphQL path, reads `connection_init` itself
//! and checks its `Authorization` (by asking this router, over loopback, to
//! run `{ __typename }` with it: Hive's JWT verification plus our token gate
//! answer 401 for a bad token). A bad token closes the connection with 4403
//! Forbidden; a message before `connection_init` closes it with 4401
//! Unauthorized. Otherwise the connection is relayed, frame for frame, to
//! Hive's own WebSocket endpoint, marked with a per-process secret header so
//! the relay is not intercepted again.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use hive_router::http::StatusCode;
use hive_router::ntex::client::Client;
use hive_router::ntex::service::{fn_factory_with_config, fn_service};
use hive_router::ntex::util::{ByteString, Bytes};
use hive_router::ntex::web::WebRequest;
use hive_router::ntex::ws::{CloseCode, CloseReason, Frame, Message, WsClient, WsSink};
use hive_router::ntex::{SharedCfg, rt, web};
use hive_router::plugins::hooks::on_http_request::{OnHttpRequestHookFuture, OnHttpRequestHookPayload};
use hive_router::plugins::hooks::on_plugin_init::{OnPluginInitPayload, OnPluginInitResult};
use hive_router::plugins::plugin_trait::{RouterPlugin, StartHookPayload};

const PROTOCOL: &str = "graphql-transport-ws";
const RELAY_HEADER: &str = "x-jobtracker-ws-relay";
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct WsGatePlugin {
    graphql_path: String,
    /// This router, as seen from itself.
    local: String,
    secret: String,
}

fn close(code: u16, description: &str) -> Message {
    Message::Close(Some(CloseReason { code: CloseCode::from(code), description: Some(description.to_string()) }))
}

/// What the relay does with one frame from the upstream (Hive).
fn to_message(frame: Frame) -> Option<Message> {
    match frame {
        Frame::Text(bytes) => ByteString::try_from(bytes).ok().map(Message::Text),
        Frame::Binary(bytes) => Some(Message::Binary(bytes)),
        Frame::Ping(bytes) => Some(Message::Ping(bytes)),
        Frame::Pong(bytes) => Some(Message::Pong(bytes)),
        Frame::Close(reason) => Some(Message::Close(reason)),
        Frame::Continuation(_) => None,
    }
}

enum State {
    AwaitingInit,
    Relaying(WsSink),
    Closed,
}

impl WsGatePlugin {
    /// Whether a bearer value passes this router's verification.
    async fn token_accepted(&self, authorization: &str) -> bool {
        let client = Client::new().await;
        let response = client
            .post(format!("{}{}", self.local, self.graphql_path))
            .header("authorization", authorization)
            .header("content-type", "application/json")
            .header(RELAY_HEADER, self.secret.as_str())
            .send_body(r#"{"query":"{ __typename }"}"#)
            .await;
        matches!(response, Ok(r) if r.status() != StatusCode::UNAUTHORIZED)
    }

    /// Opens the relay to Hive's endpoint and starts forwarding its frames.
    async fn open_relay(&self, client: WsSink) -> Option<WsSink> {
        let url = format!("{}{}", self.local.replacen("http://", "ws://", 1), self.graphql_path);
        let upstream = WsClient::builder(url.as_str())
            .protocols([PROTOCOL])
            .header(RELAY_HEADER, self.secret.as_str())
            .build(SharedCfg::default())
            .await
            .ok()?
            .connect()
            .await
            .ok()?
            .seal();
        let sink = upstream.sink();
        let heartbeat = upstream.sink();
        let frames = upstream.receiver();
        rt::spawn(async move {
            while let Some(Ok(frame)) = frames.recv().await {
                // Hive's WebSocket heartbeat is answered here, hop by hop.
                if let Frame::Ping(bytes) = frame {
                    let _ = heartbeat.send(Message::Pong(bytes)).await;
                    continue;
                }
                let Some(message) = to_message(frame) else { continue };
                let closing = matches!(message, Message::Close(_));
                if client.send(message).await.is_err() || closing {
                    break;
                }
            }
            let _ = client.send(Message::Close(Some(CloseCode::Normal.into()))).await;
        });
        Some(sink)
    }

    /// One client frame; the answer, if any, goes back to the client.
    async fn on_frame(&self, state: &RefCell<State>, client: &WsSink, frame: Frame) -> Option<Message> {
        let relay = match &*state.borrow() {
            State::Relaying(upstream) => Some(upstream.clone()),
            State::Closed => return None,
            State::AwaitingInit => None,
        };
        if let Some(upstream) = relay {
            return match frame {
                Frame::Ping(bytes) => Some(Message::Pong(bytes)),
                Frame::Pong(_) => None,
                other => {
                    let message = to_message(other)?;
                    let closing = matches!(message, Message::Close(_));
                    let _ = upstream.send(message.clone()).await;
                    closing.then_some(message)
                }
            };
        }
        let Frame::Text(text) = frame else {
            return match frame {
                Frame::Ping(bytes) => Some(Message::Pong(bytes)),
                Frame::Close(reason) => Some(Message::Close(reason)),
                _ => None,
            };
        };
        let init: serde_json::Value = serde_json::from_slice(&text).unwrap_or_default();
        if init["type"] != "connection_init" {
            *state.borrow_mut() = State::Closed;
            return Some(close(4401, "Unauthorized"));
        }
        let authorization = init["payload"]
            .as_object()
            .and_then(|fields| fields.iter().find(|(key, _)| key.eq_ignore_ascii_case("authorization")))
            .and_then(|(_, value)| value.as_str().map(str::to_owned));
        if let Some(authorization) = authorization
            && !self.token_accepted(&authorization).await
        {
            *state.borrow_mut() = State::Closed;
            return Some(close(4403, "Forbidden"));
        }
        let Some(upstream) = self.open_relay(client.clone()).await else {
            *state.borrow_mut() = State::Closed;
            return Some(close(1011, "upstream unavailable"));
        };
        let _ =
            upstream.send(Message::Text(ByteString::try_from(Bytes::from(text.to_vec())).unwrap_or_default())).await;
        *state.borrow_mut() = State::Relaying(upstream);
        None
    }

    /// Takes over the upgrade: handshake here, then the gate service per frame.
    async fn accept(
        &self,
        request: WebRequest<web::DefaultError>,
    ) -> (WebRequest<web::DefaultError>, Option<web::HttpResponse>) {
        let (http_request, body) = request.into_parts();
        let gate = self.clone();
        let response = web::ws::start::<_, _, _, web::Error>(
            http_request.clone(),
            Some(PROTOCOL),
            fn_factory_with_config(move |client: WsSink| {
                let gate = gate.clone();
                async move {
                    let state = Rc::new(RefCell::new(State::AwaitingInit));
                    // Clients that never say connection_init are let go.
                    let (timer_state, timer_sink) = (state.clone(), client.clone());
                    rt::spawn(async move {
                        hive_router::ntex::time::sleep(INIT_TIMEOUT).await;
                        if matches!(*timer_state.borrow(), State::AwaitingInit) {
                            let _ = timer_sink.send(close(4408, "Connection initialisation timeout")).await;
                        }
                    });
                    Ok::<_, web::Error>(fn_service(move |frame: Frame| {
                        let (gate, state, client) = (gate.clone(), state.clone(), client.clone());
                        async move { Ok::<_, web::Error>(gate.on_frame(&state, &client, frame).await) }
                    }))
                }
            }),
        )
        .await
        .ok();
        let request = WebRequest::from_parts(http_request, body)
            .unwrap_or_else(|(_, _)| unreachable!("the request is not shared"));
        (request, response)
    }
}

#[hive_router::async_trait]
impl RouterPlugin for WsGatePlugin {
    type Config = serde_json::Value;

    fn plugin_name() -> &'static str {
        "ws_gate"
    }

    fn on_plugin_init(payload: OnPluginInitPayload<Self>) -> OnPluginInitResult<Self> {
        let config = payload.router_config();
        let host = match config.host().as_str() {
            "0.0.0.0" | "::" | "[::]" => "127.0.0.1".to_string(),
            host => host.to_string(),
        };
        Ok(Some(Self {
            graphql_path: config.graphql_path().to_string(),
            local: format!("http://{host}:{}", config.port()),
            secret: uuid::Uuid::new_v4().simple().to_string(),
        }))
    }

    fn on_http_request<'req>(&'req self, payload: OnHttpRequestHookPayload<'req>) -> OnHttpRequestHookFuture<'req> {
        Box::pin(async move {
            let request = &payload.router_http_request;
            let is_upgrade = request
                .headers()
                .get("upgrade")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
            let relayed =
                request.headers().get(RELAY_HEADER).and_then(|v| v.to_str().ok()) == Some(self.secret.as_str());
            if !is_upgrade || relayed || request.path() != self.graphql_path {
                return payload.proceed();
            }
            let OnHttpRequestHookPayload { router_http_request, context, request_context } = payload;
            let (router_http_request, response) = self.accept(router_http_request).await;
            let payload = OnHttpRequestHookPayload { router_http_request, context, request_context };
            match response {
                Some(response) => payload.end_with_response(response),
                None => payload.proceed(),
            }
        })
    }
}
