//! users' database: profiles and the profiles each user saved. Rows become
//! `model::Profile` in one place, right after they are read; a stored value
//! that does not parse fails there (`kit::stored`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use jobtracker_kit::db::{self, Pool};
use jobtracker_kit::events::contracts::{USER_UPDATED, UserUpdated};
use jobtracker_kit::events::{Envelope, Outbox, Publisher};
use jobtracker_kit::pagination::PageRequest;
use jobtracker_kit::social::stored_social_links;
use jobtracker_kit::stored::{Column, UnreadableValue};
use jobtracker_kit::{AppError, AppResult};
use uuid::Uuid;

use crate::model::{Profile, ProfilePatch};

mod tables {
    diesel::table! {
        profiles (id) {
            id -> Uuid,
            email -> Text,
            full_name -> Text,
            phone -> Nullable<Text>,
            location -> Nullable<Text>,
            headline -> Nullable<Text>,
            skills -> Array<Text>,
            social_links -> Jsonb,
            created_at -> Timestamptz,
            updated_at -> Timestamptz,
            version -> Int8,
        }
    }
    diesel::table! {
        saved_profiles (owner_id, profile_id) {
            owner_id -> Uuid,
            profile_id -> Uuid,
            saved_at -> Timestamptz,
        }
    }
    diesel::joinable!(saved_profiles -> profiles (profile_id));
    diesel::allow_tables_to_appear_in_same_query!(profiles, saved_profiles);
}
use tables::{profiles, saved_profiles};

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = profiles)]
struct ProfileRow {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub phone: Option<String>,
    pub location: Option<String>,
    pub headline: Option<String>,
    pub skills: Vec<String>,
    pub social_links: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl TryFrom<ProfileRow> for Profile {
    type Error = UnreadableValue;

    fn try_from(row: ProfileRow) -> Result<Self, UnreadableValue> {
        let social_links = stored_social_links(&row.social_links).map_err(|reason| {
            Column::new("profiles", "social_links").unreadable(row.id, Some(&row.social_links.to_string()), reason)
        })?;
        Ok(Self {
            social_links,
            id: row.id,
            email: row.email,
            full_name: row.full_name,
            phone: row.phone,
            location: row.location,
            headline: row.headline,
            skills: row.skills,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        })
    }
}

/// Rows read into profiles; the first unreadable one fails them all.
fn domain(rows: Vec<ProfileRow>) -> Result<Vec<Profile>, UnreadableValue> {
    rows.into_iter().map(Profile::try_from).collect()
}

/// Sort key of the name search: lower-cased name, then id.
pub type NameCursor = (String, Uuid);

/// The minimal facts a profile starts from (registration).
pub struct NewProfile {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct Store {
    pool: Pool,
    publisher: Publisher,
}

impl Store {
    pub fn new(pool: Pool, outbox: Outbox) -> Self {
        Self { publisher: Publisher::new(pool.clone(), outbox), pool }
    }

    pub async fn get(&self, id: Uuid) -> AppResult<Option<Profile>> {
        let mut conn = self.pool.get().await?;
        let row = profiles::table.find(id).select(ProfileRow::as_select()).first(&mut conn).await.optional()?;
        Ok(row.map(Profile::try_from).transpose()?)
    }

    /// Creates the profile unless it exists; returns the stored one.
    pub async fn ensure(&self, new: &NewProfile) -> AppResult<Profile> {
        let mut conn = self.pool.get().await?;
        insert_if_missing(&mut conn, new).await?;
        let row = profiles::table.find(new.id).select(ProfileRow::as_select()).first(&mut conn).await?;
        Ok(Profile::try_from(row)?)
    }

    /// Case-insensitive partial match on the full name, ordered by name.
    #[tracing::instrument(skip(self))]
    pub async fn search(&self, pattern: &str, page: &PageRequest<NameCursor>) -> AppResult<(Vec<Profile>, i64)> {
        let mut conn = self.pool.get().await?;
        let matching = || profiles::table.filter(lower(profiles::full_name).like(pattern.to_string()).escape('\\'));
        let mut query = matching().select(ProfileRow::as_select()).into_boxed();
        if let Some((name, id)) = &page.after {
            query = query.filter(
                lower(profiles::full_name)
                    .gt(name.clone())
                    .or(lower(profiles::full_name).eq(name.clone()).and(profiles::id.gt(*id))),
            );
        }
        let rows =
            query.order((lower(profiles::full_name), profiles::id)).limit(page.fetch_limit()).load(&mut conn).await?;
        let total: i64 = matching().count().get_result(&mut conn).await?;
        Ok((domain(rows)?, total))
    }

    /// Applies the patch, bumps the version and emits `user.updated`.
    #[tracing::instrument(skip(self, patch))]
    pub async fn update(&self, id: Uuid, patch: ProfilePatch) -> AppResult<Profile> {
        self.publisher
            .transaction(async |conn, events| -> AppResult<Profile> {
                let current: ProfileRow = profiles::table
                    .find(id)
                    .select(ProfileRow::as_select())
                    .for_update()
                    .first(conn)
                    .await
                    .optional()?
                    .ok_or(AppError::NotFound("user"))?;
                let links = match patch.social_links {
                    Some(links) => serde_json::to_value(links).map_err(AppError::internal)?,
                    None => current.social_links.clone(),
                };
                let updated: ProfileRow = diesel::update(profiles::table.find(id))
                    .set((
                        profiles::full_name.eq(patch.full_name.unwrap_or(current.full_name)),
                        profiles::phone.eq(patch.phone.unwrap_or(current.phone)),
                        profiles::location.eq(patch.location.unwrap_or(current.location)),
                        profiles::headline.eq(patch.headline.unwrap_or(current.headline)),
                        profiles::skills.eq(patch.skills.unwrap_or(current.skills)),
                        profiles::social_links.eq(links),
                        profiles::updated_at.eq(db::now()),
                        profiles::version.eq(current.version + 1),
                    ))
                    .returning(ProfileRow::as_returning())
                    .get_result(conn)
                    .await?;
                let event = Envelope::new(
                    USER_UPDATED,
                    id,
                    id,
                    updated.version,
                    &UserUpdated {
                        user_id: id,
                        email: updated.email.clone(),
                        full_name: updated.full_name.clone(),
                        phone: updated.phone.clone(),
                        location: updated.location.clone(),
                        headline: updated.headline.clone(),
                        skills: updated.skills.clone(),
                        updated_at: updated.updated_at,
                    },
                );
                events.record(event);
                Ok(Profile::try_from(updated)?)
            })
            .await
    }

    /// Saving twice is harmless; an unknown profile is NOT_FOUND.
    pub async fn save(&self, owner: Uuid, profile: Uuid) -> AppResult<()> {
        if owner == profile {
            return Err(AppError::bad_input("userId", "you cannot save your own profile"));
        }
        let mut conn = self.pool.get().await?;
        diesel::insert_into(saved_profiles::table)
            .values((saved_profiles::owner_id.eq(owner), saved_profiles::profile_id.eq(profile)))
            .on_conflict_do_nothing()
            .execute(&mut conn)
            .await
            .map_err(|err| match err {
                diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::ForeignKeyViolation, _) => {
                    AppError::NotFound("user")
                }
                other => other.into(),
            })?;
        Ok(())
    }

    pub async fn unsave(&self, owner: Uuid, profile: Uuid) -> AppResult<()> {
        let mut conn = self.pool.get().await?;
        diesel::delete(saved_profiles::table.find((owner, profile))).execute(&mut conn).await?;
        Ok(())
    }

    /// Profiles the owner saved, most recently saved first.
    pub async fn saved_by(&self, owner: Uuid) -> AppResult<Vec<Profile>> {
        let mut conn = self.pool.get().await?;
        let rows = saved_profiles::table
            .inner_join(profiles::table)
            .filter(saved_profiles::owner_id.eq(owner))
            .order((saved_profiles::saved_at.desc(), profiles::id))
            .select(ProfileRow::as_select())
            .load(&mut conn)
            .await?;
        Ok(domain(rows)?)
    }
}

/// Used by the event consumer (inside its transaction) and by the
/// read-your-writes fallback; whichever runs first creates the profile.
pub async fn insert_if_missing(conn: &mut AsyncPgConnection, new: &NewProfile) -> QueryResult<usize> {
    diesel::insert_into(profiles::table)
        .values((
            profiles::id.eq(new.id),
            profiles::email.eq(&new.email),
            profiles::full_name.eq(&new.full_name),
            profiles::created_at.eq(new.created_at),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::SocialKind;

    fn row(social_links: serde_json::Value) -> ProfileRow {
        let now = db::now();
        ProfileRow {
            id: Uuid::nil(),
            email: "ada@example.com".into(),
            full_name: "Ada Lovelace".into(),
            phone: None,
            location: None,
            headline: None,
            skills: vec!["Rust".into()],
            social_links,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    #[test]
    fn stored_social_links_are_read_back() {
        let profile = Profile::try_from(row(json!([{ "kind": "GITHUB", "url": "https://github.com/ada" }]))).unwrap();
        assert_eq!(profile.social_links.len(), 1);
        assert_eq!(
            (profile.social_links[0].kind, profile.social_links[0].url.as_str()),
            (SocialKind::Github, "https://github.com/ada")
        );
        assert_eq!(Profile::try_from(row(json!([]))).unwrap().social_links, []);
    }

    #[test]
    fn unreadable_social_links_are_an_error_naming_them_not_dropped() {
        for (links, named) in [
            (json!([{ "kind": "MASTODON", "url": "https://example.social/@ada" }]), "MASTODON"),
            (json!([{ "kind": "GITHUB", "url": "javascript:alert(1)" }]), "javascript:alert(1)"),
            (json!({ "github": "https://github.com/ada" }), "github"),
        ] {
            let err = Profile::try_from(row(links)).unwrap_err().to_string();
            assert!(err.contains("profiles.social_links of row 00000000-0000-0000-0000-000000000000"), "{err}");
            assert!(err.contains(named), "{err}");
        }
    }
}
