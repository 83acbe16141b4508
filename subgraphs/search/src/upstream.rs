//! Which hits still resolve: asked of their owners (`_entities`, with the
//! viewer's own token, so their privacy rules decide), because the index
//! lags behind deletions by the time an event takes. A hit whose entity is
//! gone is dropped from the answer instead of failing it.

use std::collections::HashSet;

use jobtracker_kit::AppResult;
use jobtracker_kit::graphql::SubgraphClient;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::model::{Hit, Kind};

#[derive(Clone)]
pub struct Upstream {
    users: SubgraphClient,
    applications: SubgraphClient,
    contacts: SubgraphClient,
}

#[derive(Deserialize)]
struct Entities {
    #[serde(rename = "_entities")]
    entities: Vec<Option<Resolved>>,
}

#[derive(Deserialize)]
struct Resolved {
    id: String,
}

pub struct Urls<'a> {
    pub users: &'a str,
    pub applications: &'a str,
    pub contacts: &'a str,
}

impl Upstream {
    pub fn new(urls: Urls<'_>, timeout: std::time::Duration) -> Self {
        Self {
            users: SubgraphClient::new(urls.users, timeout),
            applications: SubgraphClient::new(urls.applications, timeout),
            contacts: SubgraphClient::new(urls.contacts, timeout),
        }
    }

    /// The ids of `kind` among `ids` that its owner resolves for the viewer.
    async fn resolvable(&self, token: &str, kind: Kind, ids: Vec<Uuid>) -> AppResult<HashSet<Uuid>> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let (client, typename) = match kind {
            Kind::Application => (&self.applications, "Application"),
            Kind::Contact => (&self.contacts, "Contact"),
            Kind::User => (&self.users, "User"),
        };
        let query = format!(
            "query($representations: [_Any!]!) {{ _entities(representations: $representations) {{ ... on {typename} {{ id }} }} }}"
        );
        let representations: Vec<_> = ids.iter().map(|id| json!({ "__typename": typename, "id": id })).collect();
        let answer: Entities = client.query(token, &query, json!({ "representations": representations })).await?;
        Ok(answer.entities.into_iter().flatten().filter_map(|entity| Uuid::parse_str(&entity.id).ok()).collect())
    }

    /// `hits` without those whose entity no longer resolves, in their order.
    pub async fn keep_resolvable(&self, token: &str, hits: Vec<Hit>) -> AppResult<Vec<Hit>> {
        let of = |kind| hits.iter().filter(|hit| hit.kind == kind).map(|hit| hit.id).collect::<Vec<_>>();
        let (applications, contacts, users) = futures::try_join!(
            self.resolvable(token, Kind::Application, of(Kind::Application)),
            self.resolvable(token, Kind::Contact, of(Kind::Contact)),
            self.resolvable(token, Kind::User, of(Kind::User)),
        )?;
        Ok(hits
            .into_iter()
            .filter(|hit| match hit.kind {
                Kind::Application => applications.contains(&hit.id),
                Kind::Contact => contacts.contains(&hit.id),
                Kind::User => users.contains(&hit.id),
            })
            .collect())
    }
}
