//! `jobtracker search reindex`: rebuilds the index from the publishers'
//! outboxes (auth's `user.registered`, users' `user.updated`, applications'
//! and contacts' events), which keep the newest row of every aggregate that
//! still exists (`kit::events::relay::prune`).
//!
//! The newest document of every aggregate is kept in memory (as `analytics
//! rebuild` does) and written with [`SearchIndex::replace_all`]; readers see
//! the old index until the new one is whole. Events the consumer applied
//! while it ran are in the outboxes too (an event is written there before it
//! is published), so a catch-up pass over the rows added since the first
//! read applies them again, version-checked, after the swap.

use std::collections::HashMap;
use std::sync::Arc;

use jobtracker_kit::db::{DatabaseConfig, Pool};
use jobtracker_kit::events::{Envelope, outbox};
use uuid::Uuid;

use crate::events::OUTBOX_FILTER;
use crate::index::SearchIndex;
use crate::model::{Document, Kind};

/// What a reindex did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReindexReport {
    pub events: usize,
    pub documents: usize,
    /// Applied again after the swap (changed while it ran).
    pub caught_up: usize,
}

/// Where a reindex is: reading events, then writing documents (done, of total).
pub enum Progress {
    Read(usize),
    Written(usize, usize),
}

/// The newest document of each aggregate among `events`.
#[derive(Default)]
struct Newest(HashMap<(Kind, Uuid), Document>);

impl Newest {
    fn offer(&mut self, event: &Envelope) {
        // An event search cannot read is skipped here as the consumer would
        // dead-letter it; it is reported, never fatal for the whole rebuild.
        let document = match Document::from_event(event) {
            Ok(Some(document)) => document,
            Ok(None) => return,
            Err(err) => return tracing::warn!(event_id = %event.id, error = %err, "event skipped"),
        };
        match self.0.get(&(document.kind, document.id)) {
            Some(kept) if kept.version >= document.version => {}
            _ => drop(self.0.insert((document.kind, document.id), document)),
        }
    }
}

pub async fn reindex(
    index: Arc<dyn SearchIndex>,
    search: &Pool,
    sources: &[DatabaseConfig],
    mut progress: impl FnMut(Progress) + Send,
) -> anyhow::Result<ReindexReport> {
    index.prepare().await?;
    let mut report = ReindexReport::default();
    let mut newest = Newest::default();
    let mut marks = Vec::with_capacity(sources.len());
    for source in sources {
        let mark = outbox::replay(source, OUTBOX_FILTER, 0, |event| {
            report.events += 1;
            newest.offer(&event);
            if report.events.is_multiple_of(10_000) {
                progress(Progress::Read(report.events));
            }
        })
        .await?;
        marks.push(mark);
    }
    progress(Progress::Read(report.events));
    let mut documents: Vec<Document> = newest.0.into_values().collect();
    documents.sort_by_key(|document| (document.kind, document.id));
    report.documents = documents.len();
    let total = documents.len();
    index.replace_all(&documents, &mut |written| progress(Progress::Written(written, total))).await?;
    drop(documents);

    let mut late = Newest::default();
    for (source, mark) in sources.iter().zip(marks) {
        outbox::replay(source, OUTBOX_FILTER, mark, |event| late.offer(&event)).await?;
    }
    let mut conn = search.get().await?;
    for document in late.0.values() {
        index.apply(&mut conn, document).await.map_err(|err| anyhow::anyhow!("{err}"))?;
    }
    report.caught_up = late.0.len();
    tracing::info!(
        events = report.events,
        documents = report.documents,
        caught_up = report.caught_up,
        backend = index.backend(),
        "search reindexed"
    );
    Ok(report)
}
