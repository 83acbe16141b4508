//! One way to write a change together with its events: [`Publisher::transaction`]
//! runs the write in a transaction, appends the events it recorded to the
//! outbox in that same transaction, and wakes the relay only after the
//! commit (waking before would have the relay look for rows it cannot see
//! yet, and they would wait for its next poll).
//!
//! ```ignore
//! let row = publisher
//!     .transaction(async |conn, events| {
//!         let row = insert(conn, &new).await?;
//!         events.record(Envelope::new(APPLICATION_CREATED, owner, row.id, row.version, &snapshot));
//!         Ok(row)
//!     })
//!     .await?;
//! ```
//!
//! A write that records nothing (e.g. a status change to the status it
//! already has) commits without waking anyone. Code that runs inside a
//! transaction it does not own (a consumer's) uses [`Publisher::within`] and
//! calls [`Publisher::wake`] once that transaction has committed.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::envelope::Envelope;
use super::outbox::Outbox;
use crate::db::Pool;
use crate::error::{AppError, AppResult};

/// The events a write records, appended to the outbox when it succeeds.
#[derive(Debug, Default)]
pub struct Events(Vec<Envelope>);

impl Events {
    /// Records an event describing the change being written: it is appended
    /// to the outbox in the write's transaction, after the write returns.
    pub fn record(&mut self, event: Envelope) {
        self.0.push(event);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A write closure: `async |conn, events| -> AppResult<T>`, whose future is
/// `Send` for every borrow it is given. The trait exists only to name that
/// future in a bound, as diesel-async's `AsyncFunc` does for one argument.
pub trait Write<'r, T>:
    AsyncFnOnce(&'r mut AsyncPgConnection, &'r mut Events) -> AppResult<T>
    + FnOnce(&'r mut AsyncPgConnection, &'r mut Events) -> <Self as Write<'r, T>>::Fut
{
    type Fut: Future<Output = AppResult<T>>;
}

impl<'r, T, F, Fut> Write<'r, T> for F
where
    F: AsyncFnOnce(&'r mut AsyncPgConnection, &'r mut Events) -> AppResult<T>
        + FnOnce(&'r mut AsyncPgConnection, &'r mut Events) -> Fut,
    Fut: Future<Output = AppResult<T>>,
{
    type Fut = Fut;
}

/// A service's way to write events: its pool and its outbox.
#[derive(Clone)]
pub struct Publisher {
    pool: Pool,
    outbox: Outbox,
}

impl Publisher {
    pub fn new(pool: Pool, outbox: Outbox) -> Self {
        Self { pool, outbox }
    }

    /// Runs `write` in a transaction with the events it records; wakes the
    /// relay after the commit when it recorded any.
    pub async fn transaction<T, F>(&self, write: F) -> AppResult<T>
    where
        T: Send,
        F: for<'r> Write<'r, T, Fut: Send> + Send,
    {
        let mut conn = self.pool.get().await?;
        let (value, recorded) = conn
            .transaction(async |conn| -> AppResult<(T, bool)> {
                let mut events = Events::default();
                let value = write(&mut *conn, &mut events).await?;
                let recorded = !events.is_empty();
                append(conn, events).await?;
                Ok((value, recorded))
            })
            .await?;
        if recorded {
            self.outbox.wake();
        }
        Ok(value)
    }

    /// Runs `write` inside the caller's transaction (`conn` is in one) and
    /// appends the events it records there. The caller wakes the relay with
    /// [`Publisher::wake`] after its commit.
    pub async fn within<T, F>(conn: &mut AsyncPgConnection, write: F) -> AppResult<T>
    where
        F: for<'r> Write<'r, T>,
    {
        let mut events = Events::default();
        let value = write(&mut *conn, &mut events).await?;
        append(conn, events).await?;
        Ok(value)
    }

    /// Tells this process's relay that rows are waiting.
    pub fn wake(&self) {
        self.outbox.wake();
    }
}

async fn append(conn: &mut AsyncPgConnection, events: Events) -> Result<(), AppError> {
    for event in &events.0 {
        Outbox::append(conn, event).await?;
    }
    Ok(())
}
