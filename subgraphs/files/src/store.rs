//! files' database: résumé rows (pending, attached, doomed; see the
//! migration) and the URL signing key. Rows become `model::File` in one place;
//! a stored content type this code does not know fails there (`kit::stored`).

use std::collections::HashMap;
use std::future::Future;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jobtracker_kit::db::{self, Pool};
use jobtracker_kit::stored::{Column, UnreadableValue};
use jobtracker_kit::{AppError, AppResult};
use uuid::Uuid;

use crate::model::{File, NewUpload};
use crate::sniff::DocumentKind;

mod tables {
    diesel::table! {
        files (id) {
            id -> Uuid,
            owner_id -> Uuid,
            file_name -> Text,
            content_type -> Text,
            size_bytes -> Int8,
            created_at -> Timestamptz,
            upload_expires_at -> Timestamptz,
            received_at -> Nullable<Timestamptz>,
            attached_at -> Nullable<Timestamptz>,
            removed_at -> Nullable<Timestamptz>,
        }
    }
    diesel::table! {
        url_signing_key (id) {
            id -> Int2,
            secret -> Bytea,
        }
    }
}
use tables::{files, url_signing_key};

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = files)]
struct FileRow {
    id: Uuid,
    owner_id: Uuid,
    file_name: String,
    content_type: String,
    size_bytes: i64,
    created_at: DateTime<Utc>,
    upload_expires_at: DateTime<Utc>,
    attached_at: Option<DateTime<Utc>>,
}

impl TryFrom<FileRow> for File {
    type Error = UnreadableValue;

    fn try_from(row: FileRow) -> Result<Self, Self::Error> {
        let kind = DocumentKind::from_content_type(&row.content_type).ok_or_else(|| {
            Column::new("files", "content_type").unreadable(row.id, Some(&row.content_type), "not a résumé type")
        })?;
        let size_bytes = u64::try_from(row.size_bytes).map_err(|err| {
            Column::new("files", "size_bytes").unreadable(row.id, Some(&row.size_bytes.to_string()), err)
        })?;
        Ok(File {
            id: row.id,
            owner_id: row.owner_id,
            file_name: row.file_name,
            kind,
            size_bytes,
            created_at: row.created_at,
            upload_expires_at: row.upload_expires_at,
            attached_at: row.attached_at,
        })
    }
}

fn files_of(rows: Vec<FileRow>) -> AppResult<Vec<File>> {
    Ok(rows.into_iter().map(File::try_from).collect::<Result<Vec<_>, _>>()?)
}

/// A doomed object: a résumé replaced or removed, or an upload never attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Doomed {
    pub id: Uuid,
    pub keys: Vec<String>,
}

#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

/// Pending: neither attached nor doomed.
fn pending() -> diesel::dsl::And<diesel::dsl::IsNull<files::attached_at>, diesel::dsl::IsNull<files::removed_at>> {
    files::attached_at.is_null().and(files::removed_at.is_null())
}

/// The résumé on a profile: attached and not doomed.
fn current() -> diesel::dsl::And<diesel::dsl::IsNotNull<files::attached_at>, diesel::dsl::IsNull<files::removed_at>> {
    files::attached_at.is_not_null().and(files::removed_at.is_null())
}

impl Store {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// The key URLs are signed with: made by the first replica that starts,
    /// read by every other.
    pub async fn signing_key(&self) -> AppResult<Vec<u8>> {
        use rand::RngCore;
        let mut secret = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let mut conn = self.pool.get().await?;
        diesel::insert_into(url_signing_key::table)
            .values((url_signing_key::id.eq(1), url_signing_key::secret.eq(&secret)))
            .on_conflict_do_nothing()
            .execute(&mut conn)
            .await?;
        Ok(url_signing_key::table.select(url_signing_key::secret).find(1).first(&mut conn).await?)
    }

    /// Records a pending upload of the owner's, unless they already have
    /// `max_pending` uploads whose window is open (RATE_LIMITED until the
    /// oldest closes): nobody parks unbounded bytes.
    #[tracing::instrument(skip(self, upload), fields(user_id = %owner))]
    pub async fn create_upload(
        &self,
        owner: Uuid,
        upload: &NewUpload,
        expires_at: DateTime<Utc>,
        max_pending: i64,
    ) -> AppResult<File> {
        let size_bytes = i64::try_from(upload.size_bytes).map_err(AppError::internal)?;
        let mut conn = self.pool.get().await?;
        conn.transaction(async |conn| -> AppResult<File> {
            lock_owner(conn, owner).await?;
            let open: Vec<DateTime<Utc>> = files::table
                .filter(files::owner_id.eq(owner).and(pending()).and(files::upload_expires_at.gt(diesel::dsl::now)))
                .select(files::upload_expires_at)
                .order(files::upload_expires_at)
                .load(conn)
                .await?;
            if open.len() as i64 >= max_pending {
                let closes = <[_]>::first(&open).map_or(1, |at| (*at - Utc::now()).num_seconds().max(1));
                return Err(AppError::RateLimited { retry_after_secs: u64::try_from(closes).unwrap_or(1) });
            }
            let row: FileRow = diesel::insert_into(files::table)
                .values((
                    files::id.eq(Uuid::now_v7()),
                    files::owner_id.eq(owner),
                    files::file_name.eq(&upload.file_name),
                    files::content_type.eq(upload.kind.content_type()),
                    files::size_bytes.eq(size_bytes),
                    files::created_at.eq(db::now()),
                    files::upload_expires_at.eq(expires_at),
                ))
                .returning(FileRow::as_returning())
                .get_result(conn)
                .await?;
            Ok(File::try_from(row)?)
        })
        .await
    }

    /// Whether the file is still pending (a PUT that outlived its row must
    /// not leave bytes behind).
    pub async fn is_pending(&self, id: Uuid) -> AppResult<bool> {
        let mut conn = self.pool.get().await?;
        let found =
            files::table.find(id).filter(pending()).select(files::id).first::<Uuid>(&mut conn).await.optional()?;
        Ok(found.is_some())
    }

    /// The current résumé of each of `owners` (one query for a page of profiles).
    pub async fn resumes_of(&self, owners: &[Uuid]) -> AppResult<HashMap<Uuid, File>> {
        let mut conn = self.pool.get().await?;
        let rows = files::table
            .filter(files::owner_id.eq_any(owners).and(current()))
            .select(FileRow::as_select())
            .load(&mut conn)
            .await?;
        Ok(files_of(rows)?.into_iter().map(|file| (file.owner_id, file)).collect())
    }

    /// The current résumé with this id (downloads).
    pub async fn attached(&self, id: Uuid) -> AppResult<Option<File>> {
        let mut conn = self.pool.get().await?;
        let row = files::table
            .filter(files::id.eq(id).and(current()))
            .select(FileRow::as_select())
            .first(&mut conn)
            .await
            .optional()?;
        Ok(row.map(File::try_from).transpose()?)
    }

    /// Claims the one PUT a local upload URL allows: the pending file, while
    /// its window is open and nobody sent it before. `None`: gone, expired or
    /// already received.
    pub async fn claim_receipt(&self, id: Uuid) -> AppResult<Option<File>> {
        let mut conn = self.pool.get().await?;
        let row = diesel::update(files::table)
            .filter(files::id.eq(id).and(pending()).and(files::received_at.is_null()))
            .filter(files::upload_expires_at.gt(diesel::dsl::now))
            .set(files::received_at.eq(db::now()))
            .returning(FileRow::as_returning())
            .get_result(&mut conn)
            .await
            .optional()?;
        Ok(row.map(File::try_from).transpose()?)
    }

    /// Gives a claimed PUT back (its bytes did not arrive whole).
    pub async fn release_receipt(&self, id: Uuid) -> AppResult<()> {
        let mut conn = self.pool.get().await?;
        diesel::update(files::table.find(id))
            .set(files::received_at.eq(None::<DateTime<Utc>>))
            .execute(&mut conn)
            .await?;
        Ok(())
    }

    /// Makes the owner's pending file their résumé if `check` accepts it,
    /// with the row locked throughout (a concurrent attach or the sweeper
    /// waits or skips it); the previous résumé is doomed in the same
    /// transaction and returned for deletion. Already attached: `Ok(None)`.
    /// Another user's, or swept: NOT_FOUND. `check` failing aborts and keeps
    /// the row; `check` refusing (`Ok(Err(..))`) deletes the row and returns
    /// the refusal.
    #[tracing::instrument(skip(self, check), fields(user_id = %owner))]
    pub async fn attach<F, Fut>(&self, owner: Uuid, id: Uuid, check: F) -> AppResult<Option<Doomed>>
    where
        F: FnOnce(File) -> Fut + Send,
        Fut: Future<Output = AppResult<Result<(), AppError>>> + Send,
    {
        let mut conn = self.pool.get().await?;
        conn.transaction(async |conn| -> AppResult<Result<Option<Doomed>, AppError>> {
            // One attach per owner at a time: two could both find no current
            // résumé and collide on the one-résumé index.
            lock_owner(conn, owner).await?;
            let row = files::table
                .filter(files::id.eq(id).and(files::owner_id.eq(owner)).and(files::removed_at.is_null()))
                .select(FileRow::as_select())
                .for_update()
                .first(conn)
                .await
                .optional()?
                .ok_or(AppError::NotFound("file"))?;
            let file = File::try_from(row)?;
            if file.attached_at.is_some() {
                return Ok(Ok(None));
            }
            if let Err(refused) = check(file).await? {
                diesel::delete(files::table.find(id)).execute(conn).await?;
                return Ok(Err(refused));
            }
            let previous = doom_current(conn, owner).await?;
            diesel::update(files::table.find(id)).set(files::attached_at.eq(db::now())).execute(conn).await?;
            Ok(Ok(previous))
        })
        .await?
    }

    /// Dooms the owner's résumé, if any, and returns it for deletion.
    #[tracing::instrument(skip(self), fields(user_id = %owner))]
    pub async fn remove_resume(&self, owner: Uuid) -> AppResult<Option<Doomed>> {
        let mut conn = self.pool.get().await?;
        doom_current(&mut conn, owner).await
    }

    /// Deletes a doomed row once its objects are gone.
    pub async fn forget_doomed(&self, id: Uuid) -> AppResult<()> {
        let mut conn = self.pool.get().await?;
        diesel::delete(files::table.find(id).filter(files::removed_at.is_not_null())).execute(&mut conn).await?;
        Ok(())
    }

    /// Up to `limit` rows to sweep — doomed résumés, and uploads whose window
    /// closed more than `grace` ago — handed to `delete_objects` while they
    /// are locked (other replicas skip them), then deleted with them.
    /// Returns how many were swept.
    pub async fn sweep<F, Fut>(&self, grace: chrono::Duration, limit: i64, delete_objects: F) -> AppResult<usize>
    where
        F: FnOnce(Vec<Doomed>) -> Fut + Send,
        Fut: Future<Output = AppResult<()>> + Send,
    {
        let mut conn = self.pool.get().await?;
        conn.transaction(async |conn| -> AppResult<usize> {
            let cutoff = Utc::now() - grace;
            let rows: Vec<(Uuid, Option<DateTime<Utc>>)> = files::table
                .filter(
                    files::removed_at
                        .is_not_null()
                        .or(files::attached_at.is_null().and(files::upload_expires_at.lt(cutoff))),
                )
                .select((files::id, files::attached_at))
                .order(files::upload_expires_at)
                .limit(limit)
                .for_update()
                .skip_locked()
                .load(conn)
                .await?;
            let doomed: Vec<Doomed> = rows.iter().map(|(id, _)| doomed(*id)).collect();
            if doomed.is_empty() {
                return Ok(0);
            }
            delete_objects(doomed).await?;
            let ids: Vec<Uuid> = rows.iter().map(|(id, _)| *id).collect();
            diesel::delete(files::table.filter(files::id.eq_any(&ids))).execute(conn).await?;
            Ok(ids.len())
        })
        .await
    }
}

/// Serialises the owner's uploads and attaches until the transaction ends.
async fn lock_owner(conn: &mut AsyncPgConnection, owner: Uuid) -> AppResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended('files:' || $1::text, 0))")
        .bind::<diesel::sql_types::Uuid, _>(owner)
        .execute(conn)
        .await?;
    Ok(())
}

/// Every key a file's bytes may be under.
fn doomed(id: Uuid) -> Doomed {
    Doomed { id, keys: vec![crate::model::upload_key(id), crate::model::resume_key(id)] }
}

async fn doom_current(conn: &mut AsyncPgConnection, owner: Uuid) -> AppResult<Option<Doomed>> {
    let id: Option<Uuid> = diesel::update(files::table)
        .filter(files::owner_id.eq(owner).and(current()))
        .set(files::removed_at.eq(db::now()))
        .returning(files::id)
        .get_result(conn)
        .await
        .optional()?;
    Ok(id.map(doomed))
}
