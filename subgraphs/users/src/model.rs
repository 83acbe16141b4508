//! Profile rules: what may be written into a public profile. Inputs become
//! these types through one `parse` each; nothing downstream sees raw input.

use chrono::{DateTime, Utc};
use jobtracker_kit::AppError;
use jobtracker_kit::social::parse_social_links;
use jobtracker_kit::validate::{Patch, full_name, like_contains, optional_line, search_text};
use uuid::Uuid;

const MAX_TEXT_CHARS: usize = 200;
const MAX_SKILLS: usize = 50;
const MAX_SKILL_CHARS: usize = 50;
pub const MAX_SEARCH_CHARS: usize = 100;
pub const MIN_SEARCH_CHARS: usize = 2;

// Shared with contacts (one enum, one rule, one GraphQL type).
pub use jobtracker_kit::social::{SocialKind, SocialLink};

/// A public profile, as stored (the store builds it from its row).
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub phone: Option<String>,
    pub location: Option<String>,
    pub headline: Option<String>,
    pub skills: Vec<String>,
    pub social_links: Vec<SocialLink>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// The shared phone rule (contacts parse phones the same way).
pub use jobtracker_kit::validate::Phone;

/// A change to a profile: `None` keeps a field, `Some(None)` clears it.
#[derive(Debug, Default, PartialEq)]
pub struct ProfilePatch {
    pub full_name: Option<String>,
    pub phone: Option<Option<String>>,
    pub location: Option<Option<String>>,
    pub headline: Option<Option<String>>,
    pub skills: Option<Vec<String>>,
    pub social_links: Option<Vec<SocialLink>>,
}

pub struct RawProfileInput {
    pub full_name: Patch<String>,
    pub phone: Patch<String>,
    pub location: Patch<String>,
    pub headline: Patch<String>,
    pub skills: Patch<Vec<String>>,
    pub social_links: Patch<Vec<(SocialKind, String)>>,
}

impl ProfilePatch {
    pub fn parse(input: RawProfileInput) -> Result<Self, AppError> {
        let full_name = match input.full_name {
            Patch::Keep => None,
            Patch::Clear => return Err(AppError::bad_input("input.fullName", "full name cannot be cleared")),
            Patch::Set(name) => Some(full_name(&name, "input.fullName")?),
        };
        let text = |field: Patch<String>, name: &str| -> Result<Option<Option<String>>, AppError> {
            match field {
                Patch::Keep => Ok(None),
                Patch::Clear => Ok(Some(None)),
                Patch::Set(v) => optional_line(Some(&v), name, MAX_TEXT_CHARS).map(Some),
            }
        };
        let phone = match input.phone {
            Patch::Keep => None,
            Patch::Clear => Some(None),
            Patch::Set(v) if v.trim().is_empty() => Some(None),
            Patch::Set(v) => Some(Some(Phone::parse(&v, "input.phone")?.into_inner())),
        };
        let skills = match input.skills {
            Patch::Keep => None,
            Patch::Clear => Some(Vec::new()),
            Patch::Set(skills) => Some(parse_skills(skills)?),
        };
        let social_links = match input.social_links {
            Patch::Keep => None,
            Patch::Clear => Some(Vec::new()),
            Patch::Set(links) => Some(parse_social_links(links, "input.socialLinks")?),
        };
        Ok(Self {
            full_name,
            phone,
            location: text(input.location, "input.location")?,
            headline: text(input.headline, "input.headline")?,
            skills,
            social_links,
        })
    }
}

/// Trimmed, non-empty, at most 50 of at most 50 characters, duplicates
/// (ignoring case) dropped, order kept.
fn parse_skills(skills: Vec<String>) -> Result<Vec<String>, AppError> {
    let mut kept: Vec<String> = Vec::new();
    for (i, skill) in skills.iter().enumerate() {
        let skill = skill.split_whitespace().collect::<Vec<_>>().join(" ");
        if skill.is_empty() || skill.chars().count() > MAX_SKILL_CHARS || skill.chars().any(char::is_control) {
            return Err(AppError::bad_input(
                format!("input.skills.{i}"),
                format!("a skill must be 1 to {MAX_SKILL_CHARS} printable characters"),
            ));
        }
        if !kept.iter().any(|k| k.eq_ignore_ascii_case(&skill)) {
            kept.push(skill);
        }
    }
    if kept.len() > MAX_SKILLS {
        return Err(AppError::bad_input("input.skills", format!("at most {MAX_SKILLS} skills")));
    }
    Ok(kept)
}

/// A name search term: trimmed, at least 2 non-space and at most 100
/// characters, LIKE wildcards escaped. The minimum keeps a search a search:
/// `""` or `"a"` would page through (nearly) every profile.
pub fn search_pattern(raw: &str) -> Result<String, AppError> {
    let term = search_text(raw, "search", MAX_SEARCH_CHARS)?;
    if term.chars().filter(|c| !c.is_whitespace()).count() < MIN_SEARCH_CHARS {
        return Err(AppError::bad_input(
            "search",
            format!("search must have at least {MIN_SEARCH_CHARS} characters besides spaces"),
        ));
    }
    Ok(like_contains(&term))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> RawProfileInput {
        RawProfileInput {
            full_name: Patch::Keep,
            phone: Patch::Keep,
            location: Patch::Keep,
            headline: Patch::Keep,
            skills: Patch::Keep,
            social_links: Patch::Keep,
        }
    }

    #[test]
    fn absent_keeps_and_null_clears() {
        let patch = ProfilePatch::parse(RawProfileInput { location: Patch::Clear, ..input() }).unwrap();
        assert_eq!(patch, ProfilePatch { location: Some(None), ..Default::default() });
    }

    #[test]
    fn full_name_follows_the_shared_rule() {
        let patch = ProfilePatch::parse(RawProfileInput { full_name: Patch::Set(" Ada  King ".into()), ..input() });
        assert_eq!(patch.unwrap().full_name.as_deref(), Some("Ada King"));
        let err = ProfilePatch::parse(RawProfileInput { full_name: Patch::Set("Ada\u{0}".into()), ..input() });
        assert_eq!(err.unwrap_err().field(), Some("input.fullName"));
    }

    #[test]
    fn full_name_cannot_be_cleared() {
        let err = ProfilePatch::parse(RawProfileInput { full_name: Patch::Clear, ..input() }).unwrap_err();
        assert_eq!(err.field(), Some("input.fullName"));
    }

    #[test]
    fn social_link_urls_must_be_http_or_https() {
        let err = ProfilePatch::parse(RawProfileInput {
            social_links: Patch::Set(vec![
                (SocialKind::Github, "https://github.com/a".into()),
                (SocialKind::Other, "javascript:x".into()),
            ]),
            ..input()
        })
        .unwrap_err();
        assert_eq!(err.field(), Some("input.socialLinks.1.url"));
    }

    #[test]
    fn phone_numbers_as_people_write_them() {
        for ok in ["+33 6 12 34 56 78", "(555) 123-4567", "0612345678", "+1.555.123.4567"] {
            assert!(Phone::parse(ok, "p").is_ok(), "{ok}");
        }
        for bad in ["12345", "call me", "+33 6 12 34 56 78 90 12 34", "555-CALL-NOW", "++33612345678"] {
            assert!(Phone::parse(bad, "p").is_err(), "{bad}");
        }
    }

    #[test]
    fn skills_are_trimmed_and_deduplicated() {
        let patch = ProfilePatch::parse(RawProfileInput {
            skills: Patch::Set(vec![" Rust ".into(), "rust".into(), "SQL".into()]),
            ..input()
        })
        .unwrap();
        assert_eq!(patch.skills, Some(vec!["Rust".to_string(), "SQL".to_string()]));
        let err = ProfilePatch::parse(RawProfileInput { skills: Patch::Set(vec!["ok".into(), " ".into()]), ..input() })
            .unwrap_err();
        assert_eq!(err.field(), Some("input.skills.1"));
    }

    #[test]
    fn long_text_is_refused_not_truncated() {
        let err =
            ProfilePatch::parse(RawProfileInput { headline: Patch::Set("x".repeat(201)), ..input() }).unwrap_err();
        assert_eq!(err.field(), Some("input.headline"));
    }

    #[test]
    fn search_escapes_like_wildcards() {
        assert_eq!(search_pattern(" Ada_100% ").unwrap(), "%ada\\_100\\%%");
        assert!(search_pattern(&"a".repeat(101)).is_err());
    }

    #[test]
    fn search_needs_two_characters_besides_spaces() {
        for short in ["", " ", "a", " a  ", "\t\u{3000}x"] {
            assert_eq!(search_pattern(short).unwrap_err().field(), Some("search"), "{short:?}");
        }
        assert_eq!(search_pattern(" ad ").unwrap(), "%ad%");
        assert_eq!(search_pattern("a b").unwrap(), "%a b%");
    }
}
