//! Rules of a contact: what valid input is, and how lists are ordered and
//! searched. No I/O here.

use chrono::{DateTime, Utc};
use jobtracker_kit::AppError;
use jobtracker_kit::social::{SocialKind, SocialLink, parse_social_links};
use jobtracker_kit::validate::{Email, Phone, like_contains, optional_line, optional_text, required_line, search_text};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_NOTES_CHARS: usize = 5_000;
pub const MAX_SEARCH_CHARS: usize = 100;

/// A contact, as stored (the store builds it from its row), with the user
/// its e-mail belongs to, when that e-mail is a registered user's.
#[derive(Clone, Debug, PartialEq)]
pub struct Contact {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub position: Option<String>,
    pub company: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub social_links: Vec<SocialLink>,
    pub notes: Option<String>,
    pub user_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change (the events' aggregate version).
    pub version: i64,
}

/// `ContactInput` as GraphQL delivers it.
pub struct RawContact {
    pub name: String,
    pub position: Option<String>,
    pub company: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub social_links: Option<Vec<(SocialKind, String)>>,
    pub notes: Option<String>,
}

/// A contact's fields, validated: what `createContact` writes and what
/// `updateContact` replaces the contact with (an absent field clears it).
#[derive(Clone, Debug, PartialEq)]
pub struct ContactFields {
    pub name: String,
    pub position: Option<String>,
    pub company: Option<String>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub social_links: Vec<SocialLink>,
    pub notes: Option<String>,
}

/// A blank optional value is no value.
fn non_blank(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|v| !v.is_empty())
}

impl ContactFields {
    pub fn parse(raw: RawContact) -> Result<Self, AppError> {
        Ok(Self {
            name: required_line(&raw.name, "input.name", MAX_NAME_CHARS)?,
            position: optional_line(raw.position.as_deref(), "input.position", MAX_NAME_CHARS)?,
            company: optional_line(raw.company.as_deref(), "input.company", MAX_NAME_CHARS)?,
            email: non_blank(raw.email.as_deref()).map(|e| Email::parse(e, "input.email")).transpose()?,
            phone: non_blank(raw.phone.as_deref()).map(|p| Phone::parse(p, "input.phone")).transpose()?,
            social_links: parse_social_links(raw.social_links.unwrap_or_default(), "input.socialLinks")?,
            notes: optional_text(raw.notes.as_deref(), "input.notes", MAX_NOTES_CHARS)?,
        })
    }
}

/// Position in the list (newest first): the row's creation time and id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactCursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

/// A search term as a LIKE pattern over `lower(name ␟ company ␟ position)`;
/// blank searches everything.
pub fn search_pattern(raw: &str) -> Result<Option<String>, AppError> {
    let term = search_text(raw, "search", MAX_SEARCH_CHARS)?;
    Ok((!term.is_empty()).then(|| like_contains(&term)))
}

/// The form an e-mail from another service is matched in (auth stores
/// e-mails by the same rule already; this makes the match not depend on it).
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawContact {
        RawContact {
            name: "Grace Hopper".into(),
            position: None,
            company: None,
            email: None,
            phone: None,
            social_links: None,
            notes: None,
        }
    }

    fn field_of(raw: RawContact) -> Option<String> {
        ContactFields::parse(raw).unwrap_err().field().map(str::to_string)
    }

    #[test]
    fn name_is_required_and_every_field_bounded() {
        assert_eq!(field_of(RawContact { name: "  ".into(), ..raw() }).as_deref(), Some("input.name"));
        assert_eq!(field_of(RawContact { name: "x".repeat(201), ..raw() }).as_deref(), Some("input.name"));
        assert_eq!(field_of(RawContact { company: Some("x".repeat(201)), ..raw() }).as_deref(), Some("input.company"));
        assert_eq!(field_of(RawContact { position: Some("a\nb".into()), ..raw() }).as_deref(), Some("input.position"));
        let long = "é".repeat(MAX_NOTES_CHARS + 1);
        assert_eq!(field_of(RawContact { notes: Some(long), ..raw() }).as_deref(), Some("input.notes"));
        let fits = ContactFields::parse(RawContact { notes: Some("é".repeat(MAX_NOTES_CHARS)), ..raw() });
        assert!(fits.is_ok());
    }

    #[test]
    fn email_phone_and_links_are_parsed() {
        assert_eq!(field_of(RawContact { email: Some("grace@".into()), ..raw() }).as_deref(), Some("input.email"));
        assert_eq!(field_of(RawContact { phone: Some("call me".into()), ..raw() }).as_deref(), Some("input.phone"));
        let links = Some(vec![(SocialKind::Website, "ftp://x.y".into())]);
        assert_eq!(field_of(RawContact { social_links: links, ..raw() }).as_deref(), Some("input.socialLinks.0.url"));
        let ok = ContactFields::parse(RawContact {
            email: Some(" Grace@Navy.MIL ".into()),
            phone: Some("  ".into()),
            company: Some(" US Navy ".into()),
            ..raw()
        })
        .unwrap();
        assert_eq!(ok.email.as_ref().map(Email::as_str), Some("grace@navy.mil"));
        assert_eq!((ok.phone, ok.company.as_deref()), (None, Some("US Navy")));
    }

    #[test]
    fn search_terms_are_lower_cased_and_escaped() {
        assert_eq!(search_pattern(" 100%_Rust ").unwrap().as_deref(), Some("%100\\%\\_rust%"));
        assert_eq!(search_pattern("   ").unwrap(), None);
        assert_eq!(search_pattern(&"a".repeat(101)).unwrap_err().field(), Some("search"));
        assert_eq!(search_pattern("a\u{0}").unwrap_err().field(), Some("search"));
    }
}
