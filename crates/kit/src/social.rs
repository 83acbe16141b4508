//! Social links, as profiles (users) and contacts (contacts) carry them: one
//! kind enum, one rule for a list of links, and the GraphQL types both
//! subgraphs publish. `SocialLink` is a value type of two subgraphs, so it is
//! `@shareable`; the enum and the input are identical in both by construction.

use async_graphql::{Enum, InputObject, SimpleObject};
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::validate::HttpUrl;

/// Most links one profile or contact holds.
pub const MAX_SOCIAL_LINKS: usize = 10;

// No doc comment: it would become the enum's GraphQL description.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SocialKind {
    Linkedin,
    Github,
    Twitter,
    Website,
    Other,
}

/// A link, its URL parsed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocialLink {
    pub kind: SocialKind,
    pub url: HttpUrl,
}

/// At most [`MAX_SOCIAL_LINKS`] links, each URL http(s); errors name
/// `field` or `field.<i>.url`.
pub fn parse_social_links(links: Vec<(SocialKind, String)>, field: &str) -> Result<Vec<SocialLink>, AppError> {
    if links.len() > MAX_SOCIAL_LINKS {
        return Err(AppError::bad_input(field, format!("at most {MAX_SOCIAL_LINKS} links")));
    }
    links
        .into_iter()
        .enumerate()
        .map(|(i, (kind, url))| Ok(SocialLink { kind, url: HttpUrl::parse(&url, &format!("{field}.{i}.url"))? }))
        .collect()
}

/// Links as stored in a JSONB column, read back: the URLs are parsed again
/// (serde alone would take any string as an `HttpUrl`). The error is the
/// reason, for [`crate::stored::Column::unreadable`].
pub fn stored_social_links(value: &serde_json::Value) -> Result<Vec<SocialLink>, String> {
    #[derive(Deserialize)]
    struct Stored {
        kind: SocialKind,
        url: String,
    }
    let stored: Vec<Stored> = serde_json::from_value(value.clone()).map_err(|err| err.to_string())?;
    stored
        .into_iter()
        .enumerate()
        .map(|(i, link)| {
            let url = HttpUrl::parse(&link.url, "url").map_err(|err| format!("link {i}: {err}"))?;
            Ok(SocialLink { kind: link.kind, url })
        })
        .collect()
}

// The GraphQL `SocialLink` (a doc comment would become its description).
#[derive(SimpleObject)]
#[graphql(name = "SocialLink", shareable)]
pub struct SocialLinkView {
    pub kind: SocialKind,
    pub url: String,
}

impl From<&SocialLink> for SocialLinkView {
    fn from(link: &SocialLink) -> Self {
        Self { kind: link.kind, url: link.url.as_str().to_string() }
    }
}

// The GraphQL `SocialLinkInput`.
#[derive(InputObject)]
#[graphql(name = "SocialLinkInput")]
pub struct SocialLinkInput {
    pub kind: SocialKind,
    pub url: String,
}

impl From<SocialLinkInput> for (SocialKind, String) {
    fn from(input: SocialLinkInput) -> Self {
        (input.kind, input.url)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn links_are_bounded_and_their_urls_http() {
        let err = parse_social_links(
            vec![(SocialKind::Github, "https://github.com/a".into()), (SocialKind::Other, "javascript:x".into())],
            "input.socialLinks",
        )
        .unwrap_err();
        assert_eq!(err.field(), Some("input.socialLinks.1.url"));
        let many = vec![(SocialKind::Website, "https://example.com".to_string()); MAX_SOCIAL_LINKS + 1];
        assert_eq!(parse_social_links(many, "f").unwrap_err().field(), Some("f"));
        let ok = parse_social_links(vec![(SocialKind::Linkedin, " https://linkedin.com/in/ada ".into())], "f");
        assert_eq!(ok.unwrap()[0].url.as_str(), "https://linkedin.com/in/ada");
    }

    #[test]
    fn stored_links_are_read_back_or_named_unreadable() {
        let links = stored_social_links(&json!([{ "kind": "GITHUB", "url": "https://github.com/ada" }])).unwrap();
        assert_eq!((links[0].kind, links[0].url.as_str()), (SocialKind::Github, "https://github.com/ada"));
        assert!(
            stored_social_links(&json!([{ "kind": "MASTODON", "url": "https://x.y" }]))
                .unwrap_err()
                .contains("MASTODON")
        );
        assert!(
            stored_social_links(&json!([{ "kind": "OTHER", "url": "javascript:1" }])).unwrap_err().contains("link 0")
        );
        // The stored form is what serde writes.
        let written = serde_json::to_value(&links).unwrap();
        assert_eq!(written, json!([{ "kind": "GITHUB", "url": "https://github.com/ada" }]));
    }
}
