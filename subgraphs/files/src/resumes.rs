//! The résumé workflow over the database and the object store: hand out an
//! upload, attach it once its bytes check out (replacing the previous
//! résumé), remove it, and sweep what is doomed or was never attached.
//! Objects are deleted after the rows that doom them commit; should a
//! deletion fail, the sweeper tries again (the row stays until it succeeds).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jobtracker_kit::{AppError, AppResult};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::model::{File, NewUpload, StoredObject, check_stored};
use crate::storage::ObjectStore;
use crate::store::{Doomed, Store};

/// Rows one sweep takes at most, so a backlog is worked off in bounded steps.
const SWEEP_BATCH: i64 = 100;

#[derive(Clone)]
pub struct Resumes {
    pub store: Store,
    objects: Arc<dyn ObjectStore>,
    limits: Limits,
    /// Attach checks running at once: each holds a database connection and
    /// up to twice the résumé in memory.
    checks: Arc<Semaphore>,
}

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// How long an upload URL takes its PUT.
    pub upload_url: Duration,
    /// How long a download URL works.
    pub download_url: Duration,
    /// Uploads with an open window one user may hold.
    pub pending_uploads: i64,
    pub concurrent_checks: usize,
}

/// How long an attach waits for a check slot before RATE_LIMITED.
const CHECK_SLOT_WAIT: Duration = Duration::from_secs(5);

/// A pending upload and where to PUT its bytes.
pub struct Upload {
    pub file: File,
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

impl Resumes {
    pub fn new(store: Store, objects: Arc<dyn ObjectStore>, limits: Limits) -> Self {
        Self { store, objects, limits, checks: Arc::new(Semaphore::new(limits.concurrent_checks)) }
    }

    pub async fn create_upload(&self, owner: Uuid, upload: &NewUpload) -> AppResult<Upload> {
        let expires_at = jobtracker_kit::db::now() + self.limits.upload_url;
        let file = self.store.create_upload(owner, upload, expires_at, self.limits.pending_uploads).await?;
        let url = self.objects.upload_url(&file, expires_at).await.map_err(AppError::internal)?;
        Ok(Upload { file, url, expires_at })
    }

    /// A fresh time-limited URL for an attached résumé.
    pub async fn download_url(&self, file: &File) -> AppResult<String> {
        let expires_at = Utc::now() + self.limits.download_url;
        self.objects.download_url(file, expires_at).await.map_err(AppError::internal)
    }

    /// Makes the owner's upload their résumé once its bytes are what was
    /// declared; refused bytes are deleted with their row.
    #[tracing::instrument(skip(self), fields(user_id = %owner))]
    pub async fn attach(&self, owner: Uuid, id: Uuid) -> AppResult<()> {
        let _slot = tokio::time::timeout(CHECK_SLOT_WAIT, self.checks.acquire())
            .await
            .map_err(|_| AppError::RateLimited { retry_after_secs: 1 })?
            .map_err(AppError::internal)?;
        let objects = self.objects.clone();
        let previous = self
            .store
            .attach(owner, id, move |file: File| async move {
                // Checked from a copy of its own, which later PUTs cannot reach.
                objects.promote(&file.upload_key(), &file.resume_key()).await.map_err(AppError::internal)?;
                let stored = objects.read(&file.resume_key(), file.size_bytes).await.map_err(AppError::internal)?;
                match check_stored(&file, &stored) {
                    Ok(()) => Ok(Ok(())),
                    // Nothing arrived yet: the upload URL may still be used.
                    Err(refused) if matches!(stored, StoredObject::Missing) => Err(refused),
                    Err(refused) => {
                        tracing::info!(file_id = %file.id, reason = %refused, "refused uploaded bytes");
                        objects.delete(&file.resume_key()).await.map_err(AppError::internal)?;
                        Ok(Err(refused))
                    }
                }
            })
            .await?;
        if let Some(previous) = previous {
            self.delete_now(previous).await;
        }
        Ok(())
    }

    #[tracing::instrument(skip(self), fields(user_id = %owner))]
    pub async fn remove(&self, owner: Uuid) -> AppResult<()> {
        if let Some(doomed) = self.store.remove_resume(owner).await? {
            self.delete_now(doomed).await;
        }
        Ok(())
    }

    /// Deletes a doomed résumé's objects and row right away; on failure the
    /// sweeper does it later.
    async fn delete_now(&self, doomed: Doomed) {
        let deleted = async {
            self.delete_objects(std::slice::from_ref(&doomed)).await?;
            self.store.forget_doomed(doomed.id).await
        };
        if let Err(err) = deleted.await {
            tracing::warn!(file_id = %doomed.id, error = %err, "could not delete a doomed résumé yet; the sweeper will");
        }
    }

    async fn delete_objects(&self, doomed: &[Doomed]) -> AppResult<()> {
        for key in doomed.iter().flat_map(|d| d.keys.iter()) {
            self.objects.delete(key).await.map_err(AppError::internal)?;
        }
        Ok(())
    }

    /// Sweeps until nothing is left (uploads never attached more than `grace`
    /// after their window, doomed résumés); returns how many went.
    pub async fn sweep(&self, grace: Duration) -> AppResult<usize> {
        let grace = chrono::Duration::from_std(grace).map_err(AppError::internal)?;
        let mut swept = 0;
        loop {
            let batch = self
                .store
                .sweep(grace, SWEEP_BATCH, async |doomed: Vec<Doomed>| self.delete_objects(&doomed).await)
                .await?;
            swept += batch;
            if batch < SWEEP_BATCH as usize {
                return Ok(swept);
            }
        }
    }

    /// The sweeper: every `every` until stopped. Safe with several replicas
    /// (each sweep locks its rows with SKIP LOCKED).
    pub async fn run_sweeper(self, every: Duration, grace: Duration, stop: CancellationToken) -> anyhow::Result<()> {
        loop {
            // A PUT cut short by a crash leaves a partial file; none lives
            // past its upload window.
            if let Err(err) = self.objects.forget_partials(self.limits.upload_url + grace).await {
                tracing::warn!(error = format!("{err:#}"), "deleting partial uploads failed; next round retries");
            }
            match self.sweep(grace).await {
                Ok(0) => {}
                Ok(swept) => tracing::info!(swept, "swept résumé files"),
                Err(err) => {
                    err.report();
                    tracing::warn!(error = %err, "sweeping résumé files failed; next round retries");
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}
