//! The sender: every `poll` it delivers what is due by the service's clock,
//! in batches, until nothing due is left; safe with any number of replicas
//! (rows are claimed with SKIP LOCKED). A reminder that fell due while every
//! replica was down goes out at the next start: late, never lost. Done
//! deliveries and read notifications are pruned after the retention period.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::model::Clock;
use crate::store::Store;

const BATCH: i64 = 200;
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

pub struct Sender {
    pub store: Store,
    pub clock: Clock,
    pub poll: Duration,
    pub retention: chrono::Duration,
}

impl Sender {
    /// Delivers everything due now; how many went.
    pub async fn deliver_due(&self) -> jobtracker_kit::AppResult<usize> {
        let mut sent = 0;
        loop {
            let batch = self.store.deliver_in_app(self.clock.now(), BATCH).await?;
            sent += batch.len();
            if (batch.len() as i64) < BATCH {
                return Ok(sent);
            }
        }
    }

    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        let mut pruned_at: Option<std::time::Instant> = None;
        loop {
            match self.deliver_due().await {
                Ok(0) => {}
                Ok(sent) => tracing::info!(sent, "delivered notifications"),
                Err(err) => {
                    err.report();
                    tracing::warn!(error = %err, "delivering notifications failed; next round retries");
                }
            }
            if pruned_at.is_none_or(|at| at.elapsed() > PRUNE_EVERY) {
                pruned_at = Some(std::time::Instant::now());
                if let Err(err) = self.store.prune(self.clock.now() - self.retention).await {
                    tracing::warn!(error = %err, "pruning sent deliveries failed");
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
    }
}
