//! graphql-transport-ws clients authenticate in `connection_init`, which
//! Hive Router acknowledges before any plugin hook runs (and no hook can
//! close a socket), so the gate terminates client WebSockets itself: it
//! reads `connection_init`, verifies its token (the router's own identity
//! check, no round trip) and carries the client's operations to Hive's own
//! endpoint over a few shared upstream sockets per worker thread (decision
//! 32), each operation under an id of the upstream's and with the verified
//! `Authorization` as its own header (Hive's `websocket.headers.source:
//! operation`). An upstream socket carries up to [`OPERATIONS_PER_UPSTREAM`]
//! operations of any clients; a client costs its own socket and nothing more.
//!
//! - A bad token closes with 4403, a message before `connection_init` with
//!   4401, silence with 4408, a client over the connection limit with 1013,
//!   a client that stops answering pings with 4499.
//! - Connecting is charged at `connection_init` to the verified subject's
//!   bucket (an anonymous client's to its address); an address holds at most
//!   [`MAX_PENDING_PER_ADDRESS`] connections that have not said
//!   `connection_init` yet.
//! - Every client message counts against the caller's bucket, the same as
//!   its HTTP requests: a `subscribe` over it is answered with an `error`
//!   carrying RATE_LIMITED; so is one over the router's or the user's
//!   subscription budget ([`SubscriptionBudget`]).
//! - Liveness: the gate pings each client; Hive pings the upstream sockets,
//!   which answer. A client that goes away completes its operations upstream,
//!   so Hive drops their subscriptions; an upstream that ends closes its
//!   clients with 1012 so they reconnect.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hive_router::ntex::service::{fn_factory_with_config, fn_service};
use hive_router::ntex::util::{ByteString, Bytes};
use hive_router::ntex::web::WebRequest;
use hive_router::ntex::ws::{CloseCode, CloseReason, Frame, Message, WsClient, WsSink};
use hive_router::ntex::{SharedCfg, rt, web};
use jobtracker_kit::sync::lock;
use serde::Deserialize;
use serde_json::{Value, json};

use super::document::{self, MAX_JSON_NESTING, MAX_NESTING};
use super::rate_limit::RateLimiter;
use super::{errors, metrics};
use crate::identity::{Caller, Identity};

const PROTOCOL: &str = "graphql-transport-ws";
pub(crate) const RELAY_HEADER: &str = "x-jobtracker-ws-relay";
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Operations one upstream socket carries before another is opened.
pub const OPERATIONS_PER_UPSTREAM: usize = 512;
/// Connections of one address still to say `connection_init`.
pub const MAX_PENDING_PER_ADDRESS: usize = 64;
/// The gate pings each client this often; one silent for three is dropped.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// Pushes a client has not read that the router holds before dropping it
/// (beyond what the kernel buffers): one that stopped reading would
/// otherwise make it hold every push for it.
pub const MAX_UNSENT_BYTES: usize = 256 * 1024;

/// A counter bounded by a limit, its reservations given back on drop.
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

/// Counts per key (a user, an address) bounded by one limit each.
#[derive(Clone)]
struct KeyedSlots {
    counts: Arc<Mutex<HashMap<String, usize>>>,
    limit: usize,
}

struct KeyedSlot {
    counts: Arc<Mutex<HashMap<String, usize>>>,
    key: String,
}

impl KeyedSlots {
    fn new(limit: usize) -> Self {
        Self { counts: Arc::default(), limit }
    }

    fn reserve(&self, key: &str) -> Option<KeyedSlot> {
        let mut counts = lock(&self.counts);
        let count = counts.entry(key.to_string()).or_default();
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(KeyedSlot { counts: self.counts.clone(), key: key.to_string() })
    }
}

impl Drop for KeyedSlot {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// Subscriptions (and other operations) open through this router: at most
/// `ROUTER_MAX_SUBSCRIPTIONS` in all and `ROUTER_MAX_SUBSCRIPTIONS_PER_USER`
/// per user (an anonymous client's address counts as one user).
#[derive(Clone)]
pub struct SubscriptionBudget {
    all: ConnectionSlots,
    per_user: KeyedSlots,
}

/// A reserved subscription, given back when the operation ends.
pub struct SubscriptionSlot {
    _all: Slot,
    _user: KeyedSlot,
}

/// Which budget a refused subscription is over.
#[derive(Debug, PartialEq)]
pub enum OverBudget {
    Router(usize),
    User(usize),
}

impl SubscriptionBudget {
    pub fn new(limit: usize, per_user: usize) -> Self {
        Self { all: ConnectionSlots::new(limit), per_user: KeyedSlots::new(per_user) }
    }

    pub fn reserve(&self, user_key: &str) -> Result<SubscriptionSlot, OverBudget> {
        let user = self.per_user.reserve(user_key).ok_or(OverBudget::User(self.per_user.limit))?;
        let all = self.all.reserve().ok_or(OverBudget::Router(self.all.limit))?;
        Ok(SubscriptionSlot { _all: all, _user: user })
    }

    pub fn open(&self) -> usize {
        self.all.open()
    }
}

impl OverBudget {
    /// Seconds a client is asked to wait before trying again.
    pub const RETRY_AFTER: u64 = 5;

    pub fn message(&self) -> String {
        metrics::rate_limited("subscription_budget");
        match self {
            Self::Router(limit) => format!("the router holds its maximum of {limit} subscriptions; retry later"),
            Self::User(limit) => format!("at most {limit} subscriptions per user are open at once; complete one first"),
        }
    }

    /// The `error` a WebSocket client gets for it, as a GraphQL error.
    fn graphql_error(&self) -> Value {
        json!({ "message": self.message(), "extensions": { "code": "RATE_LIMITED", "retryAfter": Self::RETRY_AFTER } })
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
    pending: KeyedSlots,
    pub budget: SubscriptionBudget,
}

fn close(code: u16, description: &str) -> Message {
    Message::Close(Some(CloseReason { code: CloseCode::from(code), description: Some(description.to_string()) }))
}

fn text_message(value: &Value) -> Message {
    Message::Text(ByteString::from(value.to_string()))
}

/// The fields of a graphql-transport-ws message the gate looks at.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    payload: Option<Value>,
}

/// An `error` message ending operation `id`.
fn operation_error(id: &str, error: Value) -> Message {
    metrics::client_error(error["extensions"]["code"].as_str().unwrap_or("INTERNAL"));
    text_message(&json!({ "id": id, "type": "error", "payload": [error] }))
}

/// The `Authorization` of a `connection_init` payload, read as Hive would
/// read headers there: from a nested `headers` object when there is one,
/// else from the top-level fields. `Err` when present but not a string.
fn init_authorization(payload: Option<&Value>) -> Result<Option<String>, ()> {
    let Some(fields) = payload.and_then(|p| p.get("headers").filter(|h| h.is_object()).or(Some(p))) else {
        return Ok(None);
    };
    let Some(fields) = fields.as_object() else { return Ok(None) };
    match fields.iter().find(|(key, _)| key.eq_ignore_ascii_case("authorization")) {
        None => Ok(None),
        Some((_, Value::String(value))) => Ok(Some(value.clone())),
        Some(_) => Err(()),
    }
}

/// The client's `subscribe` payload as Hive receives it: the client's own
/// `extensions.headers` replaced by the verified `Authorization` alone.
fn upstream_payload(mut payload: Value, authorization: Option<&str>) -> Value {
    if !payload["extensions"].is_object() {
        payload["extensions"] = json!({});
    }
    payload["extensions"]["headers"] = match authorization {
        Some(value) => json!({ "authorization": value }),
        None => json!({}),
    };
    payload
}

// ---------------------------------------------------------------- upstream

/// One shared socket to Hive's endpoint.
struct Upstream {
    sink: WsSink,
    /// Upstream operation id → the client and its own id for the operation.
    routes: RefCell<HashMap<u64, Route>>,
    open: Cell<bool>,
}

struct Route {
    client: Weak<Connection>,
    id: String,
}

/// This worker thread's upstream sockets (ntex runs each worker on its own
/// single-threaded runtime, and a socket's sink is not `Send`).
#[derive(Default)]
struct Pool {
    upstreams: RefCell<Vec<Rc<Upstream>>>,
    next_id: Cell<u64>,
    /// One socket is opened at a time, so a crowd arriving at once fills
    /// it instead of opening one each.
    opening: tokio::sync::Mutex<()>,
}

thread_local! {
    static POOL: Rc<Pool> = Rc::new(Pool::default());
}

impl Pool {
    fn with_room(&self) -> Option<Rc<Upstream>> {
        let mut upstreams = self.upstreams.borrow_mut();
        upstreams.retain(|u| u.open.get());
        upstreams.iter().find(|u| u.routes.borrow().len() < OPERATIONS_PER_UPSTREAM).cloned()
    }

    /// An upstream with room for one more operation, opened if need be.
    async fn acquire(self: &Rc<Self>, gate: &WsGate) -> Option<Rc<Upstream>> {
        if let Some(upstream) = self.with_room() {
            return Some(upstream);
        }
        let _opening = self.opening.lock().await;
        if let Some(upstream) = self.with_room() {
            return Some(upstream);
        }
        let upstream = Upstream::open(gate).await?;
        self.upstreams.borrow_mut().push(upstream.clone());
        Some(upstream)
    }

    fn next_id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }
}

impl Upstream {
    /// Connects, says `connection_init` and waits for Hive's ack; then
    /// routes what Hive sends to the clients until the socket ends.
    async fn open(gate: &WsGate) -> Option<Rc<Upstream>> {
        let socket = WsClient::builder(gate.upstream_url.as_str())
            .protocols([PROTOCOL])
            .header(RELAY_HEADER, gate.secret.as_str())
            .build(SharedCfg::default())
            .await
            .ok()?
            .connect()
            .await
            .ok()?
            .seal();
        let sink = socket.sink();
        let frames = socket.receiver();
        sink.send(text_message(&json!({ "type": "connection_init", "payload": {} }))).await.ok()?;
        let acknowledged = hive_router::ntex::time::timeout(INIT_TIMEOUT, async {
            while let Some(Ok(frame)) = frames.recv().await {
                match frame {
                    Frame::Text(text) if text.windows(14).any(|w| w == b"connection_ack") => return true,
                    Frame::Ping(bytes) => {
                        let _ = sink.send(Message::Pong(bytes)).await;
                    }
                    _ => return false,
                }
            }
            false
        })
        .await;
        if acknowledged != Ok(true) {
            tracing::warn!("the router's own WebSocket endpoint did not acknowledge the gate");
            return None;
        }
        let upstream = Rc::new(Upstream { sink, routes: RefCell::default(), open: Cell::new(true) });
        let reader = upstream.clone();
        rt::spawn(async move {
            while let Some(Ok(frame)) = frames.recv().await {
                match frame {
                    Frame::Text(text) => reader.deliver(&text).await,
                    Frame::Ping(bytes) => {
                        let _ = reader.sink.send(Message::Pong(bytes)).await;
                    }
                    Frame::Close(_) => break,
                    _ => {}
                }
            }
            reader.lost().await;
        });
        Some(upstream)
    }

    /// One message from Hive, to the client whose operation it belongs to.
    async fn deliver(&self, text: &Bytes) {
        let Ok(mut message) = serde_json::from_slice::<Value>(text) else { return };
        let (ping, ends) = match message["type"].as_str() {
            Some("ping") => (true, false),
            Some("complete" | "error") => (false, true),
            _ => (false, false),
        };
        if ping {
            let _ = self.sink.send(text_message(&json!({ "type": "pong" }))).await;
            return;
        }
        let Some(upstream_id) = message["id"].as_str().and_then(|id| id.parse::<u64>().ok()) else { return };
        let route = if ends {
            self.routes.borrow_mut().remove(&upstream_id)
        } else {
            self.routes.borrow().get(&upstream_id).map(|r| Route { client: r.client.clone(), id: r.id.clone() })
        };
        let Some(route) = route else { return };
        let Some(client) = route.client.upgrade() else { return };
        if ends {
            client.ended(&route.id);
        }
        message["id"] = Value::String(route.id);
        errors::rewrite_message(&mut message);
        client.push(text_message(&message)).await;
    }

    /// The socket ended: its clients reconnect (their operations are gone).
    async fn lost(&self) {
        self.open.set(false);
        let routes: Vec<Route> = self.routes.borrow_mut().drain().map(|(_, route)| route).collect();
        tracing::warn!(operations = routes.len(), "an upstream WebSocket of the gate ended");
        for route in routes {
            if let Some(client) = route.client.upgrade() {
                client.state.replace(State::Closed);
                let _ = client.client.send(close(1012, "the router is restarting; reconnect")).await;
            }
        }
    }

    async fn send(&self, message: Value) -> bool {
        self.sink.send(text_message(&message)).await.is_ok()
    }
}

// ------------------------------------------------------------------ client

enum State {
    AwaitingInit,
    /// `connection_init` received, its token being checked.
    Initialising,
    Open(Session),
    Closed,
}

struct Session {
    /// The caller's rate-limit bucket and subscription-budget key.
    bucket: String,
    authorization: Option<String>,
    /// The client's operation id → where it runs.
    operations: HashMap<String, Operation>,
}

struct Operation {
    upstream: Rc<Upstream>,
    upstream_id: u64,
    _slot: SubscriptionSlot,
}

impl Operation {
    /// Tells Hive the operation is over (the client completed or left).
    fn complete(self) {
        let Operation { upstream, upstream_id, .. } = self;
        if upstream.routes.borrow_mut().remove(&upstream_id).is_some() {
            rt::spawn(async move {
                upstream.send(json!({ "id": upstream_id.to_string(), "type": "complete" })).await;
            });
        }
    }
}

/// One client connection.
struct Connection {
    me: Weak<Connection>,
    gate: Arc<WsGate>,
    client: WsSink,
    /// The rate-limit key of the client's address (until init names a subject).
    address_key: String,
    state: RefCell<State>,
    last_seen: Cell<Instant>,
    /// None: admitted over the limit only to be told so with a close code.
    _slot: Option<Slot>,
    /// Held until `connection_init` (an address's handshakes are bounded).
    pending: RefCell<Option<KeyedSlot>>,
}

impl Drop for Connection {
    /// The client went away (closed, reset or timed out): its operations end
    /// upstream, so Hive drops their subscriptions.
    fn drop(&mut self) {
        if let State::Open(session) = std::mem::replace(self.state.get_mut(), State::Closed) {
            session.operations.into_values().for_each(Operation::complete);
        }
    }
}

/// What the gate does with one client message once the connection is open.
enum Verdict {
    Subscribe(String, Value),
    Complete(String),
    Answer(Message),
    Ignore,
    Close(u16, &'static str),
}

impl Connection {
    /// Sends `message` unless the client stopped reading: then it is cut off
    /// (a close frame would queue behind what it did not read).
    async fn push(&self, message: Message) {
        let unsent = self.client.io().with_write_buf(|buffer| buffer.len()).unwrap_or(0);
        if unsent > MAX_UNSENT_BYTES {
            tracing::info!(unsent, "a WebSocket client stopped reading its pushes; dropping it");
            self.client.io().terminate();
            return;
        }
        let _ = self.client.send(message).await;
    }

    /// One client frame; the answer, if any, goes back to the client.
    async fn on_frame(&self, frame: Frame) -> Option<Message> {
        self.last_seen.set(Instant::now());
        // (The borrow ends here: answering may change the state.)
        let (bucket, initialising) = match &*self.state.borrow() {
            State::Open(session) => (Some(session.bucket.clone()), false),
            State::Closed => return None,
            State::Initialising => (None, true),
            State::AwaitingInit => (None, false),
        };
        if initialising {
            return self.during_init(frame);
        }
        match (bucket, frame) {
            (_, Frame::Ping(bytes)) => Some(Message::Pong(bytes)),
            (None, Frame::Text(text)) => self.on_init(text).await,
            (_, Frame::Close(reason)) => {
                self.end_session();
                Some(Message::Close(reason))
            }
            (None, _) => None,
            (Some(bucket), Frame::Text(text)) => match self.screen(&bucket, &text) {
                Verdict::Subscribe(id, payload) => self.subscribe(id, payload).await,
                Verdict::Complete(id) => {
                    let operation = match &mut *self.state.borrow_mut() {
                        State::Open(session) => session.operations.remove(&id),
                        _ => None,
                    };
                    if let Some(operation) = operation {
                        operation.complete();
                    }
                    None
                }
                Verdict::Answer(message) => Some(message),
                Verdict::Ignore => None,
                Verdict::Close(code, reason) => self.refuse(code, reason),
            },
            (Some(_), _) => None,
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

    /// Every message but `complete`/`pong` costs a token of the caller's
    /// bucket; a second `connection_init` or an unreadable message closes the
    /// connection; a document nested too deep never reaches Hive's parser.
    fn screen(&self, bucket: &str, text: &Bytes) -> Verdict {
        if document::json_nesting(text) > MAX_JSON_NESTING {
            return Verdict::Close(4400, "Invalid message");
        }
        let Ok(envelope) = serde_json::from_slice::<Envelope>(text) else {
            return Verdict::Close(4400, "Invalid message");
        };
        let id = envelope.id.unwrap_or_default();
        match envelope.kind.as_str() {
            "complete" => return Verdict::Complete(id),
            "pong" => return Verdict::Ignore,
            "connection_init" => return Verdict::Close(4429, "Too many initialisation requests"),
            "ping" | "subscribe" => {}
            _ => return Verdict::Close(4400, "Invalid message"),
        }
        let subscribing = envelope.kind == "subscribe";
        if let Err(retry_after) = self.gate.limiter.try_acquire(bucket, Instant::now()) {
            metrics::rate_limited("websocket_message");
            return match subscribing {
                true => Verdict::Answer(operation_error(
                    &id,
                    json!({
                        "message": "too many requests, slow down",
                        "extensions": { "code": "RATE_LIMITED", "retryAfter": retry_after },
                    }),
                )),
                false => Verdict::Ignore,
            };
        }
        if !subscribing {
            return Verdict::Answer(text_message(&json!({ "type": "pong" })));
        }
        let Some(payload) = envelope.payload.filter(Value::is_object) else {
            return Verdict::Close(4400, "Invalid message");
        };
        if id.is_empty() {
            return Verdict::Close(4400, "Invalid message");
        }
        let query = payload["query"].as_str().unwrap_or_default();
        if document::graphql_nesting(query) > MAX_NESTING {
            return Verdict::Answer(operation_error(
                &id,
                json!({
                    "message": format!("document nested deeper than {MAX_NESTING} levels"),
                    "extensions": { "code": "BAD_USER_INPUT" },
                }),
            ));
        }
        Verdict::Subscribe(id, payload)
    }

    /// Starts operation `id` on an upstream socket, within the budgets.
    async fn subscribe(&self, id: String, payload: Value) -> Option<Message> {
        let session = match &*self.state.borrow() {
            State::Open(session) if session.operations.contains_key(&id) => None,
            State::Open(session) => Some((session.bucket.clone(), session.authorization.clone())),
            _ => return None,
        };
        let Some((bucket, authorization)) = session else {
            return self.refuse(4409, "Subscriber for this id already exists");
        };
        let slot = match self.gate.budget.reserve(&bucket) {
            Ok(slot) => slot,
            Err(over) => return Some(operation_error(&id, over.graphql_error())),
        };
        let pool = POOL.with(Rc::clone);
        let Some(upstream) = pool.acquire(&self.gate).await else {
            let unavailable = json!({ "message": "subscriptions are unavailable, retry shortly", "extensions": { "code": "INTERNAL" } });
            return Some(operation_error(&id, unavailable));
        };
        let upstream_id = pool.next_id();
        {
            let mut state = self.state.borrow_mut();
            let State::Open(session) = &mut *state else { return None };
            if session.operations.contains_key(&id) {
                drop(state);
                return self.refuse(4409, "Subscriber for this id already exists");
            }
            upstream.routes.borrow_mut().insert(upstream_id, Route { client: self.me.clone(), id: id.clone() });
            let operation = Operation { upstream: upstream.clone(), upstream_id, _slot: slot };
            session.operations.insert(id.clone(), operation);
        }
        let message = json!({
            "id": upstream_id.to_string(),
            "type": "subscribe",
            "payload": upstream_payload(payload, authorization.as_deref()),
        });
        if !upstream.send(message).await {
            self.ended(&id);
            upstream.routes.borrow_mut().remove(&upstream_id);
            let lost = json!({ "message": "subscriptions are unavailable, retry shortly", "extensions": { "code": "INTERNAL" } });
            return Some(operation_error(&id, lost));
        }
        None
    }

    /// Hive ended operation `id` (complete or error): its slot is free.
    fn ended(&self, id: &str) {
        if let State::Open(session) = &mut *self.state.borrow_mut() {
            session.operations.remove(id);
        }
    }

    async fn on_init(&self, text: Bytes) -> Option<Message> {
        let init = serde_json::from_slice::<Envelope>(&text).ok().filter(|m| m.kind == "connection_init");
        let Some(init) = init else {
            *self.state.borrow_mut() = State::Closed;
            return Some(close(4401, "Unauthorized"));
        };
        *self.state.borrow_mut() = State::Initialising;
        let (caller, authorization) = match init_authorization(init.payload.as_ref()) {
            Ok(authorization) => (self.gate.identity.caller(authorization.as_deref()).await, authorization),
            Err(()) => (Caller::Refused, None),
        };
        let bucket = match caller {
            Caller::User(_) => caller.subject_key().unwrap_or_default(),
            Caller::Anonymous => self.address_key.clone(),
            Caller::Refused => return self.refuse(4403, "Forbidden"),
            Caller::KeysUnavailable => return self.refuse(1013, "authentication unavailable, retry shortly"),
        };
        if self.gate.limiter.try_acquire(&bucket, Instant::now()).is_err() {
            metrics::rate_limited("websocket_connect");
            return self.refuse(4429, "Too many requests");
        }
        self.pending.replace(None);
        *self.state.borrow_mut() = State::Open(Session { bucket, authorization, operations: HashMap::new() });
        Some(text_message(&json!({ "type": "connection_ack" })))
    }

    fn end_session(&self) {
        if let State::Open(session) = self.state.replace(State::Closed) {
            session.operations.into_values().for_each(Operation::complete);
        }
    }

    /// Closes the client's connection with `code` and ends its operations.
    fn refuse(&self, code: u16, reason: &str) -> Option<Message> {
        self.end_session();
        Some(close(code, reason))
    }
}

impl WsGate {
    pub fn new(
        upstream_url: String,
        identity: Identity,
        limiter: Arc<RateLimiter>,
        max_websockets: usize,
        budget: SubscriptionBudget,
    ) -> Self {
        Self {
            upstream_url,
            secret: uuid::Uuid::new_v4().simple().to_string(),
            identity,
            limiter,
            slots: ConnectionSlots::new(max_websockets),
            pending: KeyedSlots::new(MAX_PENDING_PER_ADDRESS),
            budget,
        }
    }

    /// Whether this upgrade is the gate's own upstream socket.
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
        let admitted = self.pending.reserve(&address_key).map(|pending| (pending, self.slots.reserve()));
        let admission = Cell::new(admitted);
        let response = web::ws::start::<_, _, _, web::Error>(
            http_request.clone(),
            Some(PROTOCOL),
            fn_factory_with_config(move |client: WsSink| {
                let (gate, address_key, admission) = (gate.clone(), address_key.clone(), admission.take());
                async move {
                    let refusal = match &admission {
                        None => Some(close(4429, "too many connections waiting to initialise from this address")),
                        Some((_, None)) => Some(close(1013, "too many connections, retry later")),
                        Some((_, Some(_))) => None,
                    };
                    let (pending, slot) = admission.map_or((None, None), |(pending, slot)| (Some(pending), slot));
                    let state = if refusal.is_none() { State::AwaitingInit } else { State::Closed };
                    let connection = Rc::new_cyclic(|me| Connection {
                        me: me.clone(),
                        gate,
                        client: client.clone(),
                        address_key,
                        state: RefCell::new(state),
                        last_seen: Cell::new(Instant::now()),
                        _slot: slot,
                        pending: RefCell::new(pending),
                    });
                    match refusal {
                        Some(message) => {
                            let _ = client.send(message).await;
                        }
                        None => spawn_watchdog(Rc::downgrade(&connection)),
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

/// Clients that never say `connection_init` are let go (4408), and ones
/// that stop answering pings are dropped (4499).
fn spawn_watchdog(connection: Weak<Connection>) {
    rt::spawn(async move {
        hive_router::ntex::time::sleep(INIT_TIMEOUT).await;
        {
            let Some(connection) = connection.upgrade() else { return };
            if matches!(*connection.state.borrow(), State::AwaitingInit) {
                connection.state.replace(State::Closed);
                let _ = connection.client.send(close(4408, "Connection initialisation timeout")).await;
                return;
            }
        }
        loop {
            hive_router::ntex::time::sleep(HEARTBEAT).await;
            let Some(connection) = connection.upgrade() else { return };
            if matches!(*connection.state.borrow(), State::Closed) {
                return;
            }
            if connection.last_seen.get().elapsed() > HEARTBEAT * 3 {
                connection.end_session();
                let _ = connection.client.send(close(4499, "no answer to pings")).await;
                return;
            }
            let _ = connection.client.send(Message::Ping(Bytes::new())).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_is_read_where_hive_reads_it() {
        let read = |payload: Value| init_authorization(Some(&payload));
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
    fn a_client_cannot_choose_the_headers_its_operations_carry() {
        let forged = json!({ "query": "subscription { a }", "extensions": { "headers": { "authorization": "Bearer theirs", "x-other": "1" } } });
        assert_eq!(
            upstream_payload(forged.clone(), Some("Bearer verified"))["extensions"]["headers"],
            json!({ "authorization": "Bearer verified" })
        );
        assert_eq!(upstream_payload(forged, None)["extensions"]["headers"], json!({}));
        let plain = upstream_payload(json!({ "query": "{ a }", "extensions": "x" }), None);
        assert_eq!(plain["extensions"], json!({ "headers": {} }));
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

    #[test]
    fn the_subscription_budget_bounds_each_user_and_the_router() {
        let budget = SubscriptionBudget::new(3, 2);
        let ada: Vec<_> = (0..2).map(|_| budget.reserve("sub:ada").expect("within ada's")).collect();
        assert_eq!(budget.reserve("sub:ada").err(), Some(OverBudget::User(2)));
        let grace = budget.reserve("sub:grace").expect("grace has her own");
        assert_eq!(budget.reserve("sub:alan").err(), Some(OverBudget::Router(3)));
        drop(ada);
        drop(grace);
        assert_eq!(budget.open(), 0);
        assert!(budget.per_user.counts.lock().unwrap().is_empty(), "no key left behind");
        assert!(budget.reserve("sub:alan").is_ok());
    }
}
