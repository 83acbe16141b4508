//! Input rules shared by several subgraphs. Each parser trims, checks and
//! returns a value the rest of the code can trust, or BAD_USER_INPUT naming
//! the field. Text over a limit is refused, never truncated.

use async_graphql::MaybeUndefined;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::AppError;

pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_FULL_NAME_CHARS: usize = 200;

/// An absolute http(s) URL with a host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HttpUrl(String);

impl HttpUrl {
    pub fn parse(raw: &str, field: &str) -> Result<Self, AppError> {
        let raw = raw.trim();
        let bad = || AppError::bad_input(field, "must be an http:// or https:// URL");
        if raw.chars().count() > MAX_URL_CHARS {
            return Err(AppError::bad_input(field, format!("URL must be at most {MAX_URL_CHARS} characters")));
        }
        let url = url::Url::parse(raw).map_err(|_| bad())?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(bad());
        }
        // Parsing percent-encodes (an `é` becomes 6 characters): the stored
        // form must fit too, or it would not read back.
        if url.as_str().chars().count() > MAX_URL_CHARS {
            return Err(AppError::bad_input(
                field,
                format!("URL must be at most {MAX_URL_CHARS} characters once encoded"),
            ));
        }
        Ok(Self(url.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Longest e-mail address (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// A syntactically valid e-mail address, trimmed and lower-cased so that
/// `Ada@Example.com` and `ada@example.com` are one address: auth's accounts
/// and contacts' e-mails follow this one rule, so they match as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str, field: &str) -> Result<Self, AppError> {
        let email = raw.trim().to_lowercase();
        let bad = || AppError::bad_input(field, "enter a valid e-mail address, like name@example.com");
        if email.len() > MAX_EMAIL_CHARS || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = email.rsplit_once('@').ok_or_else(bad)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.split('.').all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'))
            && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return Err(bad());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A phone number as people write it (`+33 6 12 34 56 78`, `(555) 123-4567`):
/// digits with an optional leading `+` and separators, 7 to 15 digits (E.164),
/// at most [`MAX_PHONE_CHARS`] characters in all. Runs of white space become
/// one space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phone(String);

pub const MAX_PHONE_CHARS: usize = 32;

impl Phone {
    pub fn parse(raw: &str, field: &str) -> Result<Self, AppError> {
        // Bounded first: separators are not digits, and would be unbounded.
        if raw.trim().chars().count() > MAX_PHONE_CHARS {
            return Err(AppError::bad_input(field, format!("phone must be at most {MAX_PHONE_CHARS} characters")));
        }
        let phone = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        let body = phone.strip_prefix('+').unwrap_or(&phone);
        let digits = body.chars().filter(char::is_ascii_digit).count();
        let allowed = body.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'));
        if !allowed || !(7..=15).contains(&digits) {
            return Err(AppError::bad_input(
                field,
                "phone must be 7 to 15 digits, optionally with a leading + and spaces, dashes, dots or parentheses",
            ));
        }
        Ok(Self(phone))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// One line of text, trimmed: 1 to `max` printable characters.
pub fn required_line(raw: &str, field: &str, max: usize) -> Result<String, AppError> {
    optional_line(Some(raw), field, max)?.ok_or_else(|| AppError::bad_input(field, "must not be empty"))
}

/// One line of text, trimmed; blank is `None`.
pub fn optional_line(raw: Option<&str>, field: &str, max: usize) -> Result<Option<String>, AppError> {
    let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(None) };
    if text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(AppError::bad_input(field, format!("must be at most {max} printable characters on one line")));
    }
    Ok(Some(text.to_string()))
}

/// Free text (new lines and tabs allowed), trimmed; blank is `None`.
pub fn optional_text(raw: Option<&str>, field: &str, max: usize) -> Result<Option<String>, AppError> {
    let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(None) };
    if text.chars().count() > max {
        return Err(AppError::bad_input(field, format!("must be at most {max} characters")));
    }
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(AppError::bad_input(field, "must not contain control characters"));
    }
    Ok(Some(text.to_string()))
}

/// A person's full name, the one rule of auth (registration) and users
/// (profile edits): runs of white space become one space, then 1 to
/// [`MAX_FULL_NAME_CHARS`] characters, none of them a control character.
pub fn full_name(raw: &str, field: &str) -> Result<String, AppError> {
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(AppError::bad_input(field, "full name must not be empty"));
    }
    if name.chars().count() > MAX_FULL_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            field,
            format!("full name must be at most {MAX_FULL_NAME_CHARS} printable characters"),
        ));
    }
    Ok(name)
}

/// A search box's text: trimmed, lower-cased, at most `max` characters and
/// no control characters (PostgreSQL refuses a NUL in text outright).
pub fn search_text(raw: &str, field: &str, max: usize) -> Result<String, AppError> {
    let term = raw.trim().to_lowercase();
    if term.chars().count() > max {
        return Err(AppError::bad_input(field, format!("search must be at most {max} characters")));
    }
    if term.chars().any(char::is_control) {
        return Err(AppError::bad_input(field, "search must not contain control characters"));
    }
    Ok(term)
}

/// A LIKE pattern matching `term` anywhere: `\`, `%` and `_` in the term
/// are escaped so that they match themselves. Use it with `ESCAPE '\'`
/// (diesel: `.like(pattern).escape('\\')`).
pub fn like_contains(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// An id argument; anything but a UUID is BAD_USER_INPUT naming `field`.
pub fn parse_id(id: &str, field: &str, what: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(id.trim()).map_err(|_| AppError::bad_input(field, format!("not {what} id")))
}

/// One field of a partial update: absent keeps, null clears, a value sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Patch<T> {
    Keep,
    Clear,
    Set(T),
}

impl<T> From<MaybeUndefined<T>> for Patch<T> {
    fn from(value: MaybeUndefined<T>) -> Self {
        match value {
            MaybeUndefined::Undefined => Self::Keep,
            MaybeUndefined::Null => Self::Clear,
            MaybeUndefined::Value(v) => Self::Set(v),
        }
    }
}

impl<T> Patch<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Self::Keep => Patch::Keep,
            Self::Clear => Patch::Clear,
            Self::Set(v) => Patch::Set(f(v)),
        }
    }

    /// A field that cannot be cleared: `None` keeps it.
    pub fn required<U>(self, field: &str, parse: impl FnOnce(T) -> Result<U, AppError>) -> Result<Option<U>, AppError> {
        match self {
            Self::Keep => Ok(None),
            Self::Clear => Err(AppError::bad_input(field, "cannot be cleared")),
            Self::Set(v) => parse(v).map(Some),
        }
    }

    /// An optional field: `None` keeps it, `Some(None)` clears it.
    pub fn optional<U>(
        self,
        parse: impl FnOnce(T) -> Result<Option<U>, AppError>,
    ) -> Result<Option<Option<U>>, AppError> {
        match self {
            Self::Keep => Ok(None),
            Self::Clear => Ok(Some(None)),
            Self::Set(v) => parse(v).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_or_https_with_a_host() {
        assert_eq!(HttpUrl::parse(" https://github.com/ada ", "u").unwrap().as_str(), "https://github.com/ada");
        assert!(HttpUrl::parse("http://example.com", "u").is_ok());
        for bad in ["javascript:alert(1)", "ftp://example.com", "github.com/ada", "https://", "mailto:a@b.c", ""] {
            assert_eq!(HttpUrl::parse(bad, "input.url").unwrap_err().field(), Some("input.url"), "{bad}");
        }
        assert!(HttpUrl::parse(&format!("https://example.com/{}", "a".repeat(2048)), "u").is_err());
    }

    #[test]
    fn emails_are_normalised_and_malformed_ones_refused_with_the_field() {
        assert_eq!(Email::parse("  Ada@Example.COM ", "email").unwrap().as_str(), "ada@example.com");
        for raw in
            ["", "ada", "ada@", "@example.com", "ada@example", "ada@@example.com", "a da@example.com", "ada@-x.com"]
        {
            assert_eq!(Email::parse(raw, "input.email").unwrap_err().field(), Some("input.email"), "{raw:?}");
        }
    }

    #[test]
    fn phone_numbers_as_people_write_them() {
        assert_eq!(Phone::parse(" +33  6 12 34 56 78 ", "p").unwrap().as_str(), "+33 6 12 34 56 78");
        for ok in ["(555) 123-4567", "0612345678", "+1.555.123.4567"] {
            assert!(Phone::parse(ok, "p").is_ok(), "{ok}");
        }
        let padded = format!("{}5551234567", "(".repeat(100_000));
        for bad in ["12345", "call me", "+33 6 12 34 56 78 90 12 34", "555-CALL-NOW", "++33612345678", &padded] {
            assert_eq!(Phone::parse(bad, "input.phone").unwrap_err().field(), Some("input.phone"), "{bad}");
        }
    }

    #[test]
    fn a_url_must_fit_once_encoded() {
        let fits = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS - 20));
        assert!(HttpUrl::parse(&fits, "u").is_ok());
        // 1 000 characters as typed, 6 000 once percent-encoded.
        let grows = format!("https://example.com/{}", "é".repeat(1000));
        assert_eq!(HttpUrl::parse(&grows, "input.url").unwrap_err().field(), Some("input.url"));
    }

    #[test]
    fn lines_are_trimmed_bounded_and_single() {
        assert_eq!(required_line("  Acme  ", "f", 10).unwrap(), "Acme");
        assert_eq!(required_line("   ", "f", 10).unwrap_err().field(), Some("f"));
        assert!(required_line("x".repeat(11).as_str(), "f", 10).is_err());
        assert!(required_line("two\nlines", "f", 50).is_err());
        assert_eq!(optional_line(Some("  "), "f", 10).unwrap(), None);
    }

    #[test]
    fn full_names_are_collapsed_bounded_and_printable() {
        assert_eq!(full_name("  Ada \t  Lovelace ", "n").unwrap(), "Ada Lovelace");
        assert_eq!(full_name("   ", "input.fullName").unwrap_err().field(), Some("input.fullName"));
        for bad in ["Ada\u{0}Lovelace", "Ada\u{1b}[31m", "\u{7f}Ada"] {
            assert_eq!(full_name(bad, "input.fullName").unwrap_err().field(), Some("input.fullName"), "{bad:?}");
        }
        assert!(full_name(&"é".repeat(MAX_FULL_NAME_CHARS), "n").is_ok());
        assert!(full_name(&"é".repeat(MAX_FULL_NAME_CHARS + 1), "n").is_err());
    }

    #[test]
    fn like_patterns_match_wildcards_literally() {
        assert_eq!(like_contains("ada"), "%ada%");
        assert_eq!(like_contains("100%"), "%100\\%%");
        assert_eq!(like_contains("a_b"), "%a\\_b%");
        assert_eq!(like_contains("c:\\x"), "%c:\\\\x%");
        assert_eq!(like_contains(""), "%%");
    }

    #[test]
    fn patches_keep_clear_or_set() {
        let keep: Patch<&str> = MaybeUndefined::Undefined.into();
        assert_eq!(keep.required("f", Ok).unwrap(), None);
        let clear: Patch<&str> = MaybeUndefined::Null.into();
        assert_eq!(clear.clone().required("f", Ok).unwrap_err().field(), Some("f"));
        assert_eq!(clear.optional(|v| Ok(Some(v))).unwrap(), Some(None));
        let set: Patch<&str> = MaybeUndefined::Value("x").into();
        assert_eq!(set.optional(|v| Ok(Some(v))).unwrap(), Some(Some("x")));
        assert!(parse_id("42", "id", "an").is_err());
    }

    #[test]
    fn free_text_keeps_new_lines_and_refuses_what_is_too_long() {
        assert_eq!(optional_text(Some("line 1\nline 2\n"), "f", 50).unwrap().as_deref(), Some("line 1\nline 2"));
        assert!(optional_text(Some("a\u{0}b"), "f", 50).is_err());
        assert_eq!(optional_text(Some(&"é".repeat(51)), "d", 50).unwrap_err().field(), Some("d"));
        assert!(optional_text(Some(&"é".repeat(50)), "d", 50).is_ok());
    }
}
