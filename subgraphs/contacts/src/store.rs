//! contacts' database: the contacts, and the replica of users' e-mails they
//! are linked by (decision 26). Every write of a contact is one transaction
//! that also appends its event to the outbox. Rows become `model::Contact` in
//! one place, right after they are read, together with the user their e-mail
//! belongs to; a stored value that does not parse fails there (`kit::stored`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use jobtracker_kit::db::{self, Pool};
use jobtracker_kit::events::contracts::{
    CONTACT_CREATED, CONTACT_DELETED, CONTACT_UPDATED, ContactDeleted, ContactSnapshot, SocialLinkSnapshot,
};
use jobtracker_kit::events::{Envelope, Outbox, Publisher};
use jobtracker_kit::pagination::{Direction, PageRequest, after_cursor};
use jobtracker_kit::social::stored_social_links;
use jobtracker_kit::stored::{Column, UnreadableValue};
use jobtracker_kit::{AppError, AppResult};
use uuid::Uuid;

use crate::model::{Contact, ContactCursor, ContactFields};

mod tables {
    diesel::table! {
        contacts (id) {
            id -> Uuid,
            owner_id -> Uuid,
            name -> Text,
            position -> Nullable<Text>,
            company -> Nullable<Text>,
            email -> Nullable<Text>,
            phone -> Nullable<Text>,
            social_links -> Jsonb,
            notes -> Nullable<Text>,
            created_at -> Timestamptz,
            updated_at -> Timestamptz,
            version -> Int8,
            // Generated (see the migration): only ever read.
            search_text -> Text,
        }
    }
    diesel::table! {
        known_users (user_id) {
            user_id -> Uuid,
            email -> Text,
            version -> Int8,
            changed_at -> Timestamptz,
        }
    }
}
use tables::{contacts, known_users};

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = contacts)]
struct ContactRow {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub position: Option<String>,
    pub company: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub social_links: serde_json::Value,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl ContactRow {
    /// The contact, linked to `user_id` (the replica's answer for its e-mail).
    fn into_contact(self, user_id: Option<Uuid>) -> Result<Contact, UnreadableValue> {
        let social_links = stored_social_links(&self.social_links).map_err(|reason| {
            Column::new("contacts", "social_links").unreadable(self.id, Some(&self.social_links.to_string()), reason)
        })?;
        Ok(Contact {
            id: self.id,
            owner_id: self.owner_id,
            name: self.name,
            position: self.position,
            company: self.company,
            email: self.email,
            phone: self.phone,
            social_links,
            notes: self.notes,
            user_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        })
    }
}

/// Rows read into contacts, each linked to the registered user its e-mail
/// belongs to (one query for all of them). Should the replica hold an
/// e-mail twice for a moment (one user left it, another took it, and the
/// events arrived in the other order), the most recent change wins.
async fn linked(conn: &mut AsyncPgConnection, rows: Vec<ContactRow>) -> AppResult<Vec<Contact>> {
    let emails: Vec<String> = rows.iter().filter_map(|row| row.email.clone()).collect();
    let mut owner_of: HashMap<String, (DateTime<Utc>, Uuid)> = HashMap::new();
    if !emails.is_empty() {
        let known: Vec<(Uuid, String, DateTime<Utc>)> = known_users::table
            .filter(known_users::email.eq_any(emails))
            .select((known_users::user_id, known_users::email, known_users::changed_at))
            .load(conn)
            .await?;
        for (user_id, email, changed_at) in known {
            let entry = owner_of.entry(email).or_insert((changed_at, user_id));
            if (changed_at, user_id) > *entry {
                *entry = (changed_at, user_id);
            }
        }
    }
    let contacts = rows
        .into_iter()
        .map(|row| {
            let user_id = row.email.as_ref().and_then(|email| owner_of.get(email)).map(|(_, id)| *id);
            row.into_contact(user_id)
        })
        .collect::<Result<Vec<_>, UnreadableValue>>()?;
    Ok(contacts)
}

async fn linked_one(conn: &mut AsyncPgConnection, row: ContactRow) -> AppResult<Contact> {
    linked(conn, vec![row]).await?.pop().ok_or_else(|| AppError::internal(anyhow::anyhow!("a contact went missing")))
}

/// The columns the owner writes, alike for an insert and an update (which
/// replaces them all: an absent optional field is cleared).
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = contacts, treat_none_as_null = true)]
struct Written<'a> {
    name: &'a str,
    position: Option<&'a str>,
    company: Option<&'a str>,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    social_links: serde_json::Value,
    notes: Option<&'a str>,
}

impl<'a> Written<'a> {
    fn of(fields: &'a ContactFields) -> AppResult<Self> {
        Ok(Self {
            name: &fields.name,
            position: fields.position.as_deref(),
            company: fields.company.as_deref(),
            email: fields.email.as_ref().map(|e| e.as_str()),
            phone: fields.phone.as_ref().map(|p| p.as_str()),
            social_links: serde_json::to_value(&fields.social_links).map_err(AppError::internal)?,
            notes: fields.notes.as_deref(),
        })
    }
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

    #[tracing::instrument(skip(self, values), fields(user_id = %owner))]
    pub async fn create(&self, owner: Uuid, values: ContactFields) -> AppResult<Contact> {
        let id = Uuid::now_v7();
        let now = db::now();
        let written = Written::of(&values)?;
        self.publisher
            .transaction(async |conn, events| -> AppResult<Contact> {
                let row: ContactRow = diesel::insert_into(contacts::table)
                    .values((
                        &written,
                        contacts::id.eq(id),
                        contacts::owner_id.eq(owner),
                        contacts::created_at.eq(now),
                        contacts::updated_at.eq(now),
                    ))
                    .returning(ContactRow::as_returning())
                    .get_result(conn)
                    .await?;
                let contact = linked_one(conn, row).await?;
                events.record(event(CONTACT_CREATED, &contact, contact.version, &snapshot(&contact)));
                Ok(contact)
            })
            .await
    }

    /// Replaces every field of the owner's contact.
    #[tracing::instrument(skip(self, values), fields(user_id = %owner))]
    pub async fn update(&self, owner: Uuid, id: Uuid, values: ContactFields) -> AppResult<Contact> {
        let written = Written::of(&values)?;
        self.publisher
            .transaction(async |conn, events| -> AppResult<Contact> {
                let current = lock_owned(conn, owner, id).await?;
                let row: ContactRow = diesel::update(contacts::table.find(id))
                    .set((&written, contacts::updated_at.eq(db::now()), contacts::version.eq(current.version + 1)))
                    .returning(ContactRow::as_returning())
                    .get_result(conn)
                    .await?;
                let contact = linked_one(conn, row).await?;
                events.record(event(CONTACT_UPDATED, &contact, contact.version, &snapshot(&contact)));
                Ok(contact)
            })
            .await
    }

    #[tracing::instrument(skip(self), fields(user_id = %owner))]
    pub async fn delete(&self, owner: Uuid, id: Uuid) -> AppResult<()> {
        self.publisher
            .transaction(async |conn, events| -> AppResult<()> {
                let row = lock_owned(conn, owner, id).await?;
                let current = row.into_contact(None)?;
                diesel::delete(contacts::table.find(id)).execute(conn).await?;
                let deleted = ContactDeleted { deleted_at: db::now(), contact: snapshot(&current) };
                events.record(event(CONTACT_DELETED, &current, current.version + 1, &deleted));
                Ok(())
            })
            .await
    }

    /// The owner's contact; another user's is `None`, like a missing one.
    pub async fn get(&self, owner: Uuid, id: Uuid) -> AppResult<Option<Contact>> {
        let mut conn = self.pool.get().await?;
        let row = contacts::table
            .filter(contacts::id.eq(id).and(contacts::owner_id.eq(owner)))
            .select(ContactRow::as_select())
            .first(&mut conn)
            .await
            .optional()?;
        match row {
            Some(row) => Ok(Some(linked_one(&mut conn, row).await?)),
            None => Ok(None),
        }
    }

    /// One page of the owner's contacts, newest first, optionally those whose
    /// name, company or position matches `search` (a LIKE pattern, see
    /// `model::search_pattern`), and how many match in all (0 unless `count`).
    #[tracing::instrument(skip(self, page), fields(user_id = %owner))]
    pub async fn list(
        &self,
        owner: Uuid,
        search: Option<&str>,
        page: &PageRequest<ContactCursor>,
        count: bool,
    ) -> AppResult<(Vec<Contact>, i64)> {
        let mut conn = self.pool.get().await?;
        let matching = || {
            let mut query = contacts::table.filter(contacts::owner_id.eq(owner)).into_boxed();
            if let Some(pattern) = search {
                query = query.filter(contacts::search_text.like(pattern.to_string()).escape('\\'));
            }
            query
        };
        let mut query = matching().select(ContactRow::as_select());
        if let Some(cursor) = &page.after {
            query = query.filter(after_cursor("created_at", Direction::Descending, cursor.at, cursor.id));
        }
        let rows = query
            .order((contacts::created_at.desc(), contacts::id.desc()))
            .limit(page.fetch_limit())
            .load(&mut conn)
            .await?;
        let total = if count { matching().count().get_result(&mut conn).await? } else { 0 };
        Ok((linked(&mut conn, rows).await?, total))
    }
}

/// Locks the owner's contact for update; another user's is NOT_FOUND.
async fn lock_owned(conn: &mut AsyncPgConnection, owner: Uuid, id: Uuid) -> AppResult<ContactRow> {
    contacts::table
        .filter(contacts::id.eq(id).and(contacts::owner_id.eq(owner)))
        .select(ContactRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound("contact"))
}

/// What the replica knows of a user: their e-mail as of `version`.
pub struct KnownUser {
    pub user_id: Uuid,
    pub email: String,
    /// The user's aggregate version (auth's registration is 1, each of
    /// users' profile changes one more).
    pub version: i64,
    pub changed_at: DateTime<Utc>,
}

/// Records the user's e-mail unless the replica already holds a version as
/// new or newer: a stale event (redelivered, or overtaken by a later one)
/// changes nothing. Runs in the consumer's transaction. Returns whether it
/// changed the replica.
pub async fn remember_user(conn: &mut AsyncPgConnection, user: &KnownUser) -> QueryResult<bool> {
    let changed = diesel::sql_query(
        "INSERT INTO known_users (user_id, email, version, changed_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id) DO UPDATE \
         SET email = excluded.email, version = excluded.version, changed_at = excluded.changed_at \
         WHERE known_users.version < excluded.version",
    )
    .bind::<SqlUuid, _>(user.user_id)
    .bind::<Text, _>(&user.email)
    .bind::<BigInt, _>(user.version)
    .bind::<Timestamptz, _>(user.changed_at)
    .execute(conn)
    .await?;
    Ok(changed > 0)
}

/// A `contact.*` event.
fn event(event_type: &str, contact: &Contact, version: i64, payload: &impl serde::Serialize) -> Envelope {
    Envelope::new(event_type, contact.owner_id, contact.id, version, payload)
}

/// The contact as published: what its owner wrote (not the derived link).
fn snapshot(contact: &Contact) -> ContactSnapshot {
    ContactSnapshot {
        contact_id: contact.id,
        owner_id: contact.owner_id,
        name: contact.name.clone(),
        position: contact.position.clone(),
        company: contact.company.clone(),
        email: contact.email.clone(),
        phone: contact.phone.clone(),
        social_links: contact
            .social_links
            .iter()
            .map(|link| SocialLinkSnapshot { kind: link.kind, url: link.url.as_str().to_string() })
            .collect(),
        notes: contact.notes.clone(),
        created_at: contact.created_at,
        updated_at: contact.updated_at,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn row(social_links: serde_json::Value) -> ContactRow {
        let now = db::now();
        ContactRow {
            id: Uuid::nil(),
            owner_id: Uuid::nil(),
            name: "Grace Hopper".into(),
            position: None,
            company: None,
            email: Some("grace@navy.mil".into()),
            phone: None,
            social_links,
            notes: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    #[test]
    fn a_row_becomes_a_contact_with_its_link() {
        let user = Uuid::now_v7();
        let contact = row(json!([{ "kind": "WEBSITE", "url": "https://hopper.example" }])).into_contact(Some(user));
        let contact = contact.unwrap();
        assert_eq!((contact.user_id, contact.social_links[0].url.as_str()), (Some(user), "https://hopper.example/"));
    }

    #[test]
    fn unreadable_social_links_are_an_error_naming_them() {
        let err = row(json!([{ "kind": "OTHER", "url": "javascript:alert(1)" }])).into_contact(None).unwrap_err();
        let err = err.to_string();
        assert!(err.contains("contacts.social_links of row 00000000-0000-0000-0000-000000000000"), "{err}");
        assert!(err.contains("javascript:alert(1)"), "{err}");
    }
}
