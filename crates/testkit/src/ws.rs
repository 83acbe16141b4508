//! A graphql-transport-ws client for subscription tests.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Stream = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

pub struct WsClient {
    stream: Stream,
}

/// How a connection attempt ended when it was not acknowledged.
#[derive(Debug)]
pub enum Refused {
    Closed(Option<u16>),
    Other(String),
}

impl WsClient {
    /// Connects and completes `connection_init` with the given payload.
    pub async fn connect(url: &str, init_payload: Value) -> Result<Self, Refused> {
        Self::connect_with_receive_buffer(url, init_payload, None).await
    }

    /// As [`Self::connect`], the socket's kernel receive buffer set to
    /// `receive_buffer` bytes: a client that stops reading fills the
    /// server's side sooner.
    pub async fn connect_with_receive_buffer(
        url: &str,
        init_payload: Value,
        receive_buffer: Option<u32>,
    ) -> Result<Self, Refused> {
        let refused = |e: &dyn std::fmt::Display| Refused::Other(e.to_string());
        let mut request = url.into_client_request().map_err(|e| refused(&e))?;
        request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
        let uri = request.uri();
        let address = format!("{}:{}", uri.host().unwrap_or("127.0.0.1"), uri.port_u16().unwrap_or(80));
        let address: std::net::SocketAddr = address.parse().map_err(|e| refused(&e))?;
        let socket = tokio::net::TcpSocket::new_v4().map_err(|e| refused(&e))?;
        if let Some(bytes) = receive_buffer {
            socket.set_recv_buffer_size(bytes).map_err(|e| refused(&e))?;
        }
        let tcp = socket.connect(address).await.map_err(|e| refused(&e))?;
        let (mut stream, _) =
            tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(tcp)).await.map_err(|e| refused(&e))?;
        send(&mut stream, json!({ "type": "connection_init", "payload": init_payload })).await;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    let message: Value = serde_json::from_str(&text).expect("JSON message");
                    match message["type"].as_str() {
                        Some("connection_ack") => return Ok(Self { stream }),
                        Some("ping") => send(&mut stream, json!({ "type": "pong" })).await,
                        _ => return Err(Refused::Other(text.to_string())),
                    }
                }
                Ok(Some(Ok(Message::Close(frame)))) => return Err(Refused::Closed(frame.map(|f| u16::from(f.code)))),
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(err))) => return Err(Refused::Other(err.to_string())),
                Ok(None) => return Err(Refused::Closed(None)),
                Err(_) => return Err(Refused::Other("no connection_ack within 10 s".into())),
            }
        }
    }

    /// Opens a connection, sends `first` as the first message, and returns the
    /// close code the server answers with (None: not closed within 5 s).
    pub async fn close_code_after(url: &str, first: Value) -> Option<u16> {
        let mut request = url.into_client_request().ok()?;
        request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
        let (mut stream, _) = tokio_tungstenite::connect_async(request).await.ok()?;
        send(&mut stream, first).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            match tokio::time::timeout_at(deadline, stream.next()).await.ok()?? {
                Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    /// Reads until the connection ends or nothing arrives for `wait` (not
    /// answering pings): how many `next` messages came, and whether it ended.
    pub async fn drain(&mut self, wait: Duration) -> (usize, bool) {
        let mut pushes = 0;
        loop {
            match tokio::time::timeout(wait, self.stream.next()).await {
                Err(_) => return (pushes, false),
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return (pushes, true),
                Ok(Some(Ok(Message::Text(text)))) => {
                    let message: Value = serde_json::from_str(&text).unwrap_or_default();
                    pushes += usize::from(message["type"] == "next");
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// Sends any message (to test how the server takes it).
    pub async fn send(&mut self, message: Value) {
        send(&mut self.stream, message).await;
    }

    /// The close code the server ends the connection with within `wait`
    /// (answering pings meanwhile); `None` if it does not close.
    pub async fn close_code(&mut self, wait: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await.ok()?? {
                Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    pub async fn subscribe(&mut self, id: &str, query: &str) {
        send(&mut self.stream, json!({ "id": id, "type": "subscribe", "payload": { "query": query } })).await;
    }

    /// The next message of type `next` or `error` (answering pings), or
    /// `None` when nothing arrives within `wait`.
    pub async fn next_message(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.stream.next()).await.ok()??.ok()?;
            if let Message::Text(text) = message {
                let value: Value = serde_json::from_str(&text).expect("JSON message");
                match value["type"].as_str() {
                    Some("ping") => send(&mut self.stream, json!({ "type": "pong" })).await,
                    Some("next" | "error" | "complete") => return Some(value),
                    _ => {}
                }
            }
        }
    }
}

async fn send(stream: &mut Stream, message: Value) {
    stream.send(Message::Text(message.to_string().into())).await.expect("websocket send");
}
