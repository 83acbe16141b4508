//! graphql-transport-ws clients authenticate in `connection_init`, which
//! Hive Router acknowledges before looking at any token. The gate takes
//! WebSocket upgrades on the GraphQL path, reads `connection_init` itself,
//! verifies its token (the router's own identity check, no round trip) and
//! relays an accepted connection frame for frame to Hive's own WebSocket
//! endpoint, marked with a per-process secret header so the relay is not
//! gated twice.
//!
//! - A bad token closes with 4403, a message before `connection_init` with
//!   4401, silence with 4408, a client over the connection limit with 1013.
//! - Every client message counts against the caller's rate-limit bucket, the
//!   same bucket as its HTTP requests: a `subscribe` over the limit is
//!   answered with an `error` message carrying RATE_LIMITED.
//! - Liveness is end to end: Hive's heartbeat pings go to the client and the
//!   client's pongs back to Hive, so a client that vanishes silently is
//!   dropped by Hive's heartbeat, and a client whose TCP connection ends
//!   closes its relay at once.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hive_router::ntex::service::{fn_factory_with_config, fn_service};
use hive_router::ntex::util::{ByteString, Bytes};
use hive_router::ntex::web::WebRequest;
use hive_router::ntex::ws::{CloseCode, CloseReason, Frame, Message, WsClient, WsSink};
use hive_router::ntex::{SharedCfg, rt, web};
use serde::Deserialize;
use serde_json::json;

use super::document::{self, MAX_JSON_NESTING, MAX_NESTING};
use super::rate_limit::RateLimiter;
use super::{errors, metrics};
use crate::identity::{Caller, Identity};

const PROTOCOL: &str = "graphql-transport-ws";
pub(crate) const RELAY_HEADER: &str = "x-jobtracker-ws-relay";
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Open client connections, bounded by the configured limit.
#[derive(Clone)]
pub struct ConnectionSlots {
    open: Arc<AtomicUsize>,
    limit: usize,
}

/// One reserved slot, given back when the connection is dropped.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl ConnectionSlots {
    pub fn new(limit: usize) -> Self {
        Self { open: Arc::default(), limit }
    }

    fn reserve(&self) -> Option<Slot> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| (open < self.limit).then_some(open + 1))
            .ok()
            .map(|_| Slot(self.open.clone()))
    }

    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

/// What the gate needs, shared by every connection of this process.
pub struct WsGate {
    /// Hive's WebSocket endpoint, as seen from this process.
    pub upstream_url: String,
    pub secret: String,
    pub identity: Identity,
    pub limiter: Arc<RateLimiter>,
    pub slots: ConnectionSlots,
}

fn close(code: u16, description: &str) -> Message {
    Message::Close(Some(CloseReason { code: CloseCode::from(code), description: Some(description.to_string()) }))
}

fn text_message(value: serde_json::Value) -> Message {
    Message::Text(ByteString::from(value.to_string()))
}

/// A frame as the other side of the relay should receive it.
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

/// The fields of a graphql-transport-ws message the gate looks at.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    payload: Option<serde_json::Value>,
}

enum State {
    AwaitingInit,
    /// `connection_init` received, its token being checked.
    Initialising,
    Relaying {
        upstream: WsSink,
        bucket: String,
    },
    Closed,
}

/// What the relay does with one client message.
enum Verdict {
    Forward,
    Answer(Message),
    Ignore,
    Close(u16, &'static str),
}

/// An `error` message ending operation `id`.
fn operation_error(id: &str, error: serde_json::Value) -> Message {
    metrics::client_error(error["extensions"]["code"].as_str().unwrap_or("INTERNAL"));
    text_message(json!({ "id": id, "type": "error", "payload": [error] }))
}

/// The `Authorization` of a `connection_init` payload, read as Hive reads
/// headers there: from a nested `headers` object when there is one, else
/// from the top-level fields. `Err` when present but not a string (Hive
/// would still forward it, so it cannot pass as anonymous).
fn init_authorization(payload: Option<&serde_json::Value>) -> Result<Option<String>, ()> {
    let Some(fields) = payload.and_then(|p| p.get("headers").filter(|h| h.is_object()).or(Some(p))) else {
        return Ok(None);
    };
    let Some(fields) = fields.as_object() else { return Ok(None) };
    match fields.iter().find(|(key, _)| key.eq_ignore_ascii_case("authorization")) {
        None => Ok(None),
        Some((_, serde_json::Value::String(value))) => Ok(Some(value.clone())),
        Some(_) => Err(()),
    }
}

/// One client connection.
struct Connection {
    gate: Arc<WsGate>,
    client: WsSink,
    /// The rate-limit key of the client's address (until init names a subject).
    address_key: String,
    state: RefCell<State>,
    /// None: admitted over the limit only to be told so with a close code.
    _slot: Option<Slot>,
}

impl Drop for Connection {
    /// The client went away (closed, reset or timed out): end its relay so
    /// Hive drops the subscriptions and the upstream socket is released.
    fn drop(&mut self) {
        end_relay(std::mem::replace(self.state.get_mut(), State::Closed));
    }
}

/// Closes the upstream of a state that was relaying.
fn end_relay(state: State) {
    if let State::Relaying { upstream, .. } = state {
        rt::spawn(async move {
            let _ = upstream.send(Message::Close(Some(CloseCode::Normal.into()))).await;
        });
    }
}

impl Connection {
    /// One client frame; the answer, if any, goes back to the client.
    async fn on_frame(&self, frame: Frame) -> Option<Message> {
        let relay = match &*self.state.borrow() {
            State::Relaying { upstream, bucket } => Some((upstream.clone(), bucket.clone())),
            State::Closed => return None,
            State::Initialising => return self.during_init(frame),
            State::AwaitingInit => None,
        };
        match (relay, frame) {
            (_, Frame::Ping(bytes)) => Some(Message::Pong(bytes)),
            (None, Frame::Text(text)) => self.on_init(text).await,
            (None, Frame::Close(reason)) => Some(Message::Close(reason)),
            (None, _) => None,
            (Some((upstream, bucket)), Frame::Text(text)) => match self.screen(&bucket, &text) {
                Verdict::Forward => {
                    let message = ByteString::try_from(text).ok().map(Message::Text)?;
                    let _ = upstream.send(message).await;
                    None
                }
                Verdict::Answer(message) => Some(message),
                Verdict::Ignore => None,
                Verdict::Close(code, reason) => self.refuse(code, reason),
            },
            (Some((upstream, _)), Frame::Close(reason)) => {
                *self.state.borrow_mut() = State::Closed;
                let _ = upstream.send(Message::Close(reason.clone())).await;
                Some(Message::Close(reason))
            }
            // Pongs answer Hive's heartbeat: they must reach it.
            (Some((upstream, _)), frame) => {
                let message = to_message(frame)?;
                let _ = upstream.send(message).await;
                None
            }
        }
    }

    /// A frame that arrives while `connection_init` is being checked: the
    /// protocol allows nothing but control frames until the acknowledgement.
    fn during_init(&self, frame: Frame) -> Option<Message> {
        match frame {
            Frame::Ping(bytes) => Some(Message::Pong(bytes)),
            Frame::Text(text) => {
                let kind = serde_json::from_slice::<Envelope>(&text).map(|e| e.kind).unwrap_or_default();
                match kind.as_str() {
                    "connection_init" => self.refuse(4429, "Too many initialisation requests"),
                    _ => self.refuse(4401, "Unauthorized"),
                }
            }
            _ => None,
        }
    }

    /// What to do with a client message once the connection is relayed:
    /// every message but `complete`/`pong` costs a token of the caller's
    /// bucket; a second `connection_init` or an unreadable message closes the
    /// connection; a document nested too deep never reaches Hive's parser.
    fn screen(&self, bucket: &str, text: &Bytes) -> Verdict {
        if document::json_nesting(text) > MAX_JSON_NESTING {
            return Verdict::Close(4400, "Invalid message");
        }
        let Ok(envelope) = serde_json::from_slice::<Envelope>(text) else {
            return Verdict::Close(4400, "Invalid message");
        };
        match envelope.kind.as_str() {
            "complete" | "pong" => return Verdict::Forward,
            "connection_init" => return Verdict::Close(4429, "Too many initialisation requests"),
            _ => {}
        }
        let subscription = envelope.id.clone().filter(|_| envelope.kind == "subscribe");
        if let Err(retry_after) = self.gate.limiter.try_acquire(bucket, Instant::now()) {
            metrics::rate_limited("websocket_message");
            return match subscription {
                Some(id) => Verdict::Answer(operation_error(
                    &id,
                    json!({
                        "message": "too many requests, slow down",
                        "extensions": { "code": "RATE_LIMITED", "retryAfter": retry_after },
                    }),
                )),
                None => Verdict::Ignore,
            };
        }
        if let Some(id) = subscription {
            let query = envelope.payload.as_ref().and_then(|p| p["query"].as_str()).unwrap_or_default();
            if document::graphql_nesting(query) > MAX_NESTING {
                return Verdict::Answer(operation_error(
                    &id,
                    json!({
                        "message": format!("document nested deeper than {MAX_NESTING} levels"),
                        "extensions": { "code": "BAD_USER_INPUT" },
                    }),
                ));
            }
        }
        Verdict::Forward
    }

    async fn on_init(&self, text: Bytes) -> Option<Message> {
        let init = serde_json::from_slice::<Envelope>(&text).ok().filter(|m| m.kind == "connection_init");
        let Some(init) = init else {
            *self.state.borrow_mut() = State::Closed;
            return Some(close(4401, "Unauthorized"));
        };
        *self.state.borrow_mut() = State::Initialising;
        let caller = match init_authorization(init.payload.as_ref()) {
            Ok(authorization) => self.gate.identity.caller(authorization.as_deref()).await,
            Err(()) => Caller::Refused,
        };
        let bucket = match caller {
            Caller::User(_) => caller.subject_key().unwrap_or_default(),
            Caller::Anonymous => self.address_key.clone(),
            Caller::Refused => return self.refuse(4403, "Forbidden"),
            Caller::KeysUnavailable => return self.refuse(1013, "authentication unavailable, retry shortly"),
        };
        if self.gate.limiter.try_acquire(&bucket, Instant::now()).is_err() {
            return self.refuse(4429, "Too many requests");
        }
        let Some(upstream) = self.open_relay().await else {
            return self.refuse(1013, "upstream unavailable, retry shortly");
        };
        let _ = upstream.send(Message::Text(ByteString::try_from(text).unwrap_or_default())).await;
        *self.state.borrow_mut() = State::Relaying { upstream, bucket };
        None
    }

    /// Closes the client's connection with `code` and ends its relay.
    fn refuse(&self, code: u16, reason: &str) -> Option<Message> {
        end_relay(self.state.replace(State::Closed));
        Some(close(code, reason))
    }

    /// Opens the relay to Hive's endpoint and forwards its frames (its
    /// heartbeat pings included) to the client until either side ends.
    async fn open_relay(&self) -> Option<WsSink> {
        let upstream = WsClient::builder(self.gate.upstream_url.as_str())
            .protocols([PROTOCOL])
            .header(RELAY_HEADER, self.gate.secret.as_str())
            .build(SharedCfg::default())
            .await
            .ok()?
            .connect()
            .await
            .ok()?
            .seal();
        let sink = upstream.sink();
        let frames = upstream.receiver();
        let client = self.client.clone();
        rt::spawn(async move {
            while let Some(Ok(frame)) = frames.recv().await {
                let frame = match frame {
                    Frame::Text(text) => match errors::rewrite_message(&text) {
                        Some(rewritten) => Frame::Text(Bytes::from(rewritten)),
                        None => Frame::Text(text),
                    },
                    other => other,
                };
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
}

impl WsGate {
    /// Whether this upgrade is our own relay, already gated.
    pub fn is_relay(&self, secret: Option<&str>) -> bool {
        secret == Some(self.secret.as_str())
    }

    /// Takes over the upgrade: handshake here, then one `Connection` per client.
    pub async fn accept(
        self: &Arc<Self>,
        request: WebRequest<web::DefaultError>,
        address_key: String,
    ) -> (WebRequest<web::DefaultError>, Option<web::HttpResponse>) {
        let (http_request, body) = request.into_parts();
        let gate = self.clone();
        let slot = Cell::new(self.slots.reserve());
        let response = web::ws::start::<_, _, _, web::Error>(
            http_request.clone(),
            Some(PROTOCOL),
            fn_factory_with_config(move |client: WsSink| {
                let (gate, address_key, slot) = (gate.clone(), address_key.clone(), slot.take());
                async move {
                    let admitted = slot.is_some();
                    let state = if admitted { State::AwaitingInit } else { State::Closed };
                    let connection = Rc::new(Connection {
                        gate,
                        client: client.clone(),
                        address_key,
                        state: RefCell::new(state),
                        _slot: slot,
                    });
                    if admitted {
                        spawn_init_timeout(Rc::downgrade(&connection));
                    } else {
                        let _ = client.send(close(1013, "too many connections, retry later")).await;
                    }
                    Ok::<_, web::Error>(fn_service(move |frame: Frame| {
                        let connection = connection.clone();
                        async move { Ok::<_, web::Error>(connection.on_frame(frame).await) }
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

/// Clients that never say `connection_init` are let go.
fn spawn_init_timeout(connection: Weak<Connection>) {
    rt::spawn(async move {
        hive_router::ntex::time::sleep(INIT_TIMEOUT).await;
        let Some(connection) = connection.upgrade() else { return };
        let waiting = matches!(*connection.state.borrow(), State::AwaitingInit);
        if waiting {
            *connection.state.borrow_mut() = State::Closed;
            let _ = connection.client.send(close(4408, "Connection initialisation timeout")).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_is_read_where_hive_reads_it() {
        let read = |payload: serde_json::Value| init_authorization(Some(&payload));
        assert_eq!(read(json!({ "Authorization": "Bearer a" })), Ok(Some("Bearer a".into())));
        assert_eq!(
            read(json!({ "headers": { "authorization": "Bearer b" }, "Authorization": "Bearer a" })),
            Ok(Some("Bearer b".into()))
        );
        assert_eq!(read(json!({ "headers": "x", "authorization": "Bearer a" })), Ok(Some("Bearer a".into())));
        assert_eq!(read(json!({ "Authorization": 123 })), Err(()));
        assert_eq!(read(json!({ "headers": { "Authorization": null } })), Err(()));
        assert_eq!(read(json!({})), Ok(None));
        assert_eq!(init_authorization(None), Ok(None));
    }

    #[test]
    fn slots_are_bounded_and_given_back() {
        let slots = ConnectionSlots::new(2);
        let (a, b) = (slots.reserve(), slots.reserve());
        assert!(a.is_some() && b.is_some());
        assert!(slots.reserve().is_none(), "a third connection is over the limit");
        drop(a);
        assert_eq!(slots.open(), 1);
        assert!(slots.reserve().is_some());
    }
}
