//! W3C trace context (`traceparent`) followed from the router through a
//! subgraph, into the outbox row and the event's AMQP header, to every
//! consumer, so one trace id ties a mutation to its analytics update and its
//! notification. Each request or consumed event runs in a tracing span with
//! `trace_id` (log lines carry it) and with the context in a task-local, from
//! which new envelopes and calls to other subgraphs take it.

use std::future::Future;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The header, in requests and AMQP messages.
pub const HEADER: &str = "traceparent";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lower-case hex digits, not all zero.
    pub trace_id: String,
    /// 16 lower-case hex digits: the span this one descends from (or is).
    pub span_id: String,
    pub sampled: bool,
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl TraceContext {
    /// A `traceparent` of version 00, strictly; anything else is ignored
    /// (a fresh trace starts), never trusted.
    pub fn parse(header: &str) -> Option<Self> {
        let mut parts = header.trim().split('-');
        let (version, trace_id, span_id, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let valid = version == "00"
            && parts.next().is_none()
            && is_hex(trace_id, 32)
            && trace_id.bytes().any(|b| b != b'0')
            && is_hex(span_id, 16)
            && span_id.bytes().any(|b| b != b'0')
            && is_hex(flags, 2);
        valid.then(|| Self {
            trace_id: trace_id.to_string(),
            span_id: span_id.to_string(),
            sampled: u8::from_str_radix(flags, 16).is_ok_and(|f| f & 1 == 1),
        })
    }

    /// A new trace (nothing valid came in).
    pub fn root() -> Self {
        Self { trace_id: format!("{:032x}", rand::random::<u128>().max(1)), span_id: new_span_id(), sampled: true }
    }

    /// This trace, with a span of our own under the caller's.
    pub fn child(&self) -> Self {
        Self { span_id: new_span_id(), ..self.clone() }
    }

    pub fn header(&self) -> String {
        format!("00-{}-{}-{}", self.trace_id, self.span_id, if self.sampled { "01" } else { "00" })
    }

    /// As OpenTelemetry's remote parent.
    fn span_context(&self) -> Option<opentelemetry::trace::SpanContext> {
        use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
        let flags = if self.sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
        Some(SpanContext::new(
            TraceId::from_hex(&self.trace_id).ok()?,
            SpanId::from_hex(&self.span_id).ok()?,
            flags,
            true,
            TraceState::default(),
        ))
    }

    /// The caller's context continued, else a new trace.
    pub fn continue_from(header: Option<&str>) -> Self {
        header.and_then(Self::parse).map(|parent| parent.child()).unwrap_or_else(Self::root)
    }
}

fn new_span_id() -> String {
    format!("{:016x}", rand::random::<u64>().max(1))
}

tokio::task_local! {
    static CURRENT: TraceContext;
}

/// The context of the request or event being handled, if any.
pub fn current() -> Option<TraceContext> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `work` with `context` as the current one (for the envelopes it
/// creates and the calls it makes).
pub async fn scope<F: Future>(context: TraceContext, work: F) -> F::Output {
    CURRENT.scope(context, work).await
}

/// Joins `span` (declared with an empty `trace_id` field) to the trace of
/// `incoming` and returns its context. With OTLP export on, the ids are the
/// exported span's (a child of the caller's); otherwise a span id of our own
/// under the caller's, or a new trace when nothing valid came in.
pub fn attach(span: &tracing::Span, incoming: Option<&str>) -> TraceContext {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let parent = incoming.and_then(TraceContext::parse);
    if let Some(parent) = &parent
        && let Some(remote) = parent.span_context()
    {
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }
    let exported = span.context().span().span_context().clone();
    let context = if exported.is_valid() {
        TraceContext {
            trace_id: exported.trace_id().to_string(),
            span_id: exported.span_id().to_string(),
            sampled: exported.is_sampled(),
        }
    } else {
        parent.map(|parent| parent.child()).unwrap_or_else(TraceContext::root)
    };
    span.record("trace_id", tracing::field::display(&context.trace_id));
    context
}

/// Headers of a call to another service: the current trace, with the
/// current span as the callee's parent.
pub fn outgoing_headers() -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(value) = current().and_then(|c| reqwest::header::HeaderValue::from_str(&c.header()).ok()) {
        headers.insert(HEADER, value);
    }
    headers
}

/// Every request of a service runs in a span of the trace its `traceparent` names.
pub async fn layer(request: Request, next: Next) -> Response {
    let header = request.headers().get(HEADER).and_then(|v| v.to_str().ok());
    let span = tracing::info_span!("request", trace_id = tracing::field::Empty);
    let context = attach(&span, header);
    scope(context, next.run(request).instrument(span)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_version_00_headers_are_taken() {
        let parsed = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(parsed.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(parsed.sampled);
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_child_keeps_the_trace_and_takes_a_span_of_its_own() {
        let parent = TraceContext::root();
        let child = TraceContext::continue_from(Some(&parent.header()));
        assert_eq!(child.trace_id, parent.trace_id);
        assert_ne!(child.span_id, parent.span_id);
        assert_eq!(TraceContext::parse(&child.header()), Some(child));
        assert_ne!(TraceContext::continue_from(Some("garbage")).trace_id, parent.trace_id);
    }
}
