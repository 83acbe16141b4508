//! files' part of the supergraph: `File` (owned here), `User.resume`
//! (contributed to users' entity) and the résumé mutations. Uploads and
//! attaching are the viewer's own (another user's file is NOT_FOUND);
//! résumés are on profiles, so any signed-in viewer sees and downloads them.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{ComplexObject, Context, ID, Object, Result, Schema, SchemaBuilder, SimpleObject};
use chrono::{DateTime, Utc};
use jobtracker_kit::AppResult;
use jobtracker_kit::graphql::{optional_viewer, require_viewer};
use jobtracker_kit::validate;
use uuid::Uuid;

use crate::model::{self, NewUpload};
use crate::resumes::Resumes;

pub type FilesSchema = Schema<Query, Mutation, async_graphql::EmptySubscription>;

/// How large a résumé may be (`FILES_MAX_BYTES`).
#[derive(Clone, Copy)]
pub struct MaxBytes(pub u64);

/// A résumé file.
pub struct File(pub model::File);

/// A résumé file.
#[Object]
impl File {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn file_name(&self) -> &str {
        &self.0.file_name
    }
    async fn content_type(&self) -> &str {
        self.0.kind.content_type()
    }
    async fn size_bytes(&self) -> i32 {
        // At most FILES_MAX_BYTES, which is checked against i32 at start.
        i32::try_from(self.0.size_bytes).unwrap_or(i32::MAX)
    }
    /// Time-limited: fetch a fresh one rather than storing it.
    async fn download_url(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(resumes(ctx).download_url(&self.0).await?)
    }
    async fn uploaded_at(&self) -> DateTime<Utc> {
        self.0.attached_at.unwrap_or(self.0.created_at)
    }
}

/// An upload waiting for its bytes.
#[derive(SimpleObject)]
pub struct ResumeUpload {
    /// Not yet attached.
    pub file: File,
    /// HTTP PUT the bytes here, with the declared content type, before `expiresAt`.
    pub upload_url: String,
    pub expires_at: DateTime<Utc>,
}

// users' `User`, extended with the résumé.
#[derive(SimpleObject)]
#[graphql(name = "User", complex)]
pub struct UserRef {
    pub id: ID,
}

impl UserRef {
    fn of(id: Uuid) -> Self {
        Self { id: ID(id.to_string()) }
    }
}

#[ComplexObject]
impl UserRef {
    /// The user's résumé; profiles are for signed-in viewers, so null when signed out.
    async fn resume(&self, ctx: &Context<'_>) -> Result<Option<File>> {
        let (Some(_), Ok(id)) = (optional_viewer(ctx), Uuid::parse_str(&self.id)) else { return Ok(None) };
        Ok(ctx.data_unchecked::<DataLoader<ResumesByOwner>>().load_one(id).await?.map(File))
    }
}

/// One query for the résumés of a page of profiles.
pub struct ResumesByOwner(Resumes);

impl Loader<Uuid> for ResumesByOwner {
    type Value = model::File;
    type Error = async_graphql::Error;

    async fn load(&self, owners: &[Uuid]) -> Result<HashMap<Uuid, model::File>, Self::Error> {
        Ok(self.0.store.resumes_of(owners).await?)
    }
}

fn resumes<'a>(ctx: &Context<'a>) -> &'a Resumes {
    ctx.data_unchecked::<Resumes>()
}

pub struct Query;

#[Object]
impl Query {
    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> UserRef {
        UserRef { id }
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Starts a résumé upload: PDF, DOC or DOCX, at most `FILES_MAX_BYTES`.
    async fn create_resume_upload(
        &self,
        ctx: &Context<'_>,
        file_name: String,
        content_type: String,
        size_bytes: i32,
    ) -> Result<ResumeUpload> {
        let viewer = require_viewer(ctx)?;
        let upload = NewUpload::parse(&file_name, &content_type, size_bytes, ctx.data_unchecked::<MaxBytes>().0)?;
        let created = resumes(ctx).create_upload(viewer.user_id, &upload).await?;
        Ok(ResumeUpload { file: File(created.file), upload_url: created.url, expires_at: created.expires_at })
    }

    /// Makes an upload the viewer's résumé once its stored bytes are what
    /// was declared (size, and type by content); replaces the previous one.
    async fn attach_resume(&self, ctx: &Context<'_>, file_id: ID) -> Result<UserRef> {
        let viewer = require_viewer(ctx)?;
        let id = parse_file_id(&file_id)?;
        resumes(ctx).attach(viewer.user_id, id).await?;
        Ok(UserRef::of(viewer.user_id))
    }

    /// Deletes the viewer's résumé (nothing to do when there is none).
    async fn remove_resume(&self, ctx: &Context<'_>) -> Result<UserRef> {
        let viewer = require_viewer(ctx)?;
        resumes(ctx).remove(viewer.user_id).await?;
        Ok(UserRef::of(viewer.user_id))
    }
}

fn parse_file_id(id: &ID) -> AppResult<Uuid> {
    validate::parse_id(id, "fileId", "a file")
}

pub fn schema_builder() -> SchemaBuilder<Query, Mutation, async_graphql::EmptySubscription> {
    Schema::build(Query, Mutation, async_graphql::EmptySubscription)
        .enable_federation()
        .extension(async_graphql::extensions::Tracing)
}

/// The schema with its data.
pub fn schema(resumes: Resumes, max_bytes: u64) -> FilesSchema {
    schema_builder()
        .data(DataLoader::new(ResumesByOwner(resumes.clone()), tokio::spawn))
        .data(resumes)
        .data(MaxBytes(max_bytes))
        .finish()
}
