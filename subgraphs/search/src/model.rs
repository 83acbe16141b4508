//! What search keeps of an entity (its words by weight, its owner and the
//! version they come from) and what a search asks, checked before any work.

use jobtracker_kit::AppError;
use jobtracker_kit::events::contracts::{
    APPLICATION_CREATED, APPLICATION_DELETED, APPLICATION_EVENTS_VERSION, APPLICATION_STATUS_CHANGED,
    APPLICATION_UPDATED, ApplicationDeleted, ApplicationSnapshot, ApplicationStatusChanged, CONTACT_CREATED,
    CONTACT_DELETED, CONTACT_UPDATED, ContactDeleted, ContactSnapshot, USER_REGISTERED, USER_UPDATED, UserRegistered,
    UserUpdated,
};
use jobtracker_kit::events::{Envelope, HandlerResult};
use uuid::Uuid;

pub const MAX_QUERY_CHARS: usize = 200;
/// More words than a search box ever holds; each costs a lexicon lookup.
pub const MAX_QUERY_WORDS: usize = 20;
pub const MAX_RESULTS: i32 = 100;
pub const DEFAULT_RESULTS: i32 = 20;
/// Typo tolerance, as Elasticsearch's `fuzziness: AUTO:5,8`: words shorter
/// than 5 letters must match exactly, 5 to 7 letters may be one edit off,
/// longer words two.
pub fn allowed_edits(word_chars: usize) -> u32 {
    match word_chars {
        0..5 => 0,
        5..8 => 1,
        _ => 2,
    }
}

/// What can be found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Application,
    Contact,
    User,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Application, Kind::Contact, Kind::User];

    /// As stored (PostgreSQL column, Elasticsearch keyword).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Application => "application",
            Kind::Contact => "contact",
            Kind::User => "user",
        }
    }

    pub fn parse(stored: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == stored)
    }
}

/// An entity's words by weight. Applications: position / company /
/// location / description excerpt. Contacts: name / position and company /
/// — / notes. Users: full name / headline and skills / location / —.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Words {
    pub primary: String,
    pub secondary: String,
    pub location: String,
    pub body: String,
}

/// One entity in the index, as of one version of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub kind: Kind,
    pub id: Uuid,
    /// `None`: public (user profiles).
    pub owner: Option<Uuid>,
    pub version: i64,
    /// `None`: the entity was deleted at this version.
    pub words: Option<Words>,
}

fn joined<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    parts.into_iter().filter(|part| !part.is_empty()).collect::<Vec<_>>().join(" ")
}

impl Document {
    /// What an event says about a searchable entity; `None` for events that
    /// change nothing searchable. A payload it cannot read, or an
    /// application event newer than it knows, is permanent (dead-lettered
    /// until search learns it).
    pub fn from_event(event: &Envelope) -> HandlerResult<Option<Document>> {
        event.ensure_known_version("application.", APPLICATION_EVENTS_VERSION, "search")?;
        let document = |kind, id, owner, words| Document { kind, id, owner, version: event.aggregate_version, words };
        // Every application and contact event carries the whole snapshot;
        // a deletion's words are none.
        let application = |snapshot: ApplicationSnapshot, live: bool| {
            let words = live.then(|| application_words(&snapshot));
            document(Kind::Application, snapshot.application_id, Some(snapshot.owner_id), words)
        };
        let contact = |snapshot: ContactSnapshot, live: bool| {
            let words = live.then(|| contact_words(&snapshot));
            document(Kind::Contact, snapshot.contact_id, Some(snapshot.owner_id), words)
        };
        Ok(Some(match event.event_type.as_str() {
            APPLICATION_CREATED | APPLICATION_UPDATED => application(event.payload()?, true),
            APPLICATION_STATUS_CHANGED => application(event.payload::<ApplicationStatusChanged>()?.application, true),
            APPLICATION_DELETED => application(event.payload::<ApplicationDeleted>()?.application, false),
            CONTACT_CREATED | CONTACT_UPDATED => contact(event.payload()?, true),
            CONTACT_DELETED => contact(event.payload::<ContactDeleted>()?.contact, false),
            USER_REGISTERED => {
                let user: UserRegistered = event.payload()?;
                let words = Words { primary: user.full_name, ..Words::default() };
                document(Kind::User, user.user_id, None, Some(words))
            }
            USER_UPDATED => {
                let user: UserUpdated = event.payload()?;
                let skills = user.skills.iter().map(String::as_str);
                let words = Words {
                    primary: user.full_name.clone(),
                    secondary: joined(user.headline.as_deref().into_iter().chain(skills)),
                    location: user.location.clone().unwrap_or_default(),
                    body: String::new(),
                };
                document(Kind::User, user.user_id, None, Some(words))
            }
            _ => return Ok(None),
        }))
    }
}

fn application_words(application: &ApplicationSnapshot) -> Words {
    Words {
        primary: application.position.clone(),
        secondary: application.company.clone(),
        location: application.location.clone().unwrap_or_default(),
        body: application.description_excerpt.clone().unwrap_or_default(),
    }
}

fn contact_words(contact: &ContactSnapshot) -> Words {
    Words {
        primary: contact.name.clone(),
        secondary: joined([contact.position.as_deref().unwrap_or(""), contact.company.as_deref().unwrap_or("")]),
        location: String::new(),
        body: contact.notes.clone().unwrap_or_default(),
    }
}

/// A search, checked: words as typed (each backend folds case and accents
/// its own way), the last one matched as a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchRequest {
    pub viewer: Uuid,
    pub words: Vec<String>,
    pub kinds: Vec<Kind>,
    pub limit: usize,
}

impl SearchRequest {
    pub fn parse(viewer: Uuid, query: &str, kinds: Option<Vec<Kind>>, first: Option<i32>) -> Result<Self, AppError> {
        let query = query.trim();
        if query.is_empty() {
            return Err(AppError::bad_input("query", "type something to search for"));
        }
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(AppError::bad_input("query", format!("a search is at most {MAX_QUERY_CHARS} characters")));
        }
        if query.chars().any(char::is_control) {
            return Err(AppError::bad_input("query", "a search must not contain control characters"));
        }
        let words: Vec<String> =
            query.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
        if words.len() > MAX_QUERY_WORDS {
            return Err(AppError::bad_input("query", format!("a search is at most {MAX_QUERY_WORDS} words")));
        }
        let limit = match first {
            None => DEFAULT_RESULTS,
            Some(n) if (0..=MAX_RESULTS).contains(&n) => n,
            Some(_) => return Err(AppError::bad_input("first", format!("first must be between 0 and {MAX_RESULTS}"))),
        };
        let mut kinds = kinds.unwrap_or_else(|| Kind::ALL.to_vec());
        kinds.sort();
        kinds.dedup();
        Ok(Self { viewer, words, kinds, limit: limit as usize })
    }

    /// Nothing can match: no words (only punctuation), no kinds, or no room.
    pub fn is_vacant(&self) -> bool {
        self.words.is_empty() || self.kinds.is_empty() || self.limit == 0
    }
}

/// One match, before its entity is resolved by its owner.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub kind: Kind,
    pub id: Uuid,
    pub score: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<SearchRequest, AppError> {
        SearchRequest::parse(Uuid::nil(), query, None, None)
    }

    #[test]
    fn a_query_is_bounded_before_any_work() {
        for bad in ["", "   ", "\t\n", &"a".repeat(MAX_QUERY_CHARS + 1), "rust\u{0}", &"a ".repeat(MAX_QUERY_WORDS + 1)]
        {
            let err = parse(bad).unwrap_err();
            assert!(matches!(err, AppError::BadUserInput { ref field, .. } if field == "query"), "{bad:?}: {err:?}");
        }
        assert!(parse(&"é".repeat(MAX_QUERY_CHARS)).is_ok(), "characters are counted, not bytes");
        for first in [-1, MAX_RESULTS + 1] {
            let err = SearchRequest::parse(Uuid::nil(), "rust", None, Some(first)).unwrap_err();
            assert!(matches!(err, AppError::BadUserInput { ref field, .. } if field == "first"));
        }
    }

    #[test]
    fn words_are_split_at_anything_but_letters_and_digits() {
        let request = parse("  Zürich, front-end C3PO!  ").unwrap();
        assert_eq!(request.words, ["zürich", "front", "end", "c3po"]);
        assert!(parse("?!").unwrap().is_vacant());
        let kinds = Some(vec![Kind::User, Kind::User, Kind::Contact]);
        let request = SearchRequest::parse(Uuid::nil(), "x", kinds, Some(5)).unwrap();
        assert_eq!((request.kinds, request.limit), (vec![Kind::Contact, Kind::User], 5));
    }

    #[test]
    fn typo_tolerance_grows_with_the_word() {
        let edits: Vec<u32> = [1, 4, 5, 7, 8, 20].into_iter().map(allowed_edits).collect();
        assert_eq!(edits, [0, 0, 1, 1, 2, 2]);
    }
}
