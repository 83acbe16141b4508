//! The consumer: redelivered and reordered events, deletions that stay
//! deleted, and hits whose entity no longer resolves.

use chrono::Utc;
use jobtracker_kit::events::Envelope;
use jobtracker_kit::events::contracts::{
    APPLICATION_CREATED, APPLICATION_DELETED, APPLICATION_UPDATED, ApplicationDeleted, ApplicationSnapshot,
    ApplicationStatus,
};
use jobtracker_search::model::{Kind, SearchRequest};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

on_both_backends!(redelivered_and_reordered_events_leave_the_newest_version, hits_whose_entity_is_gone_are_dropped);

fn snapshot(owner: Uuid, id: Uuid, position: &str) -> ApplicationSnapshot {
    let now = Utc::now();
    ApplicationSnapshot {
        application_id: id,
        owner_id: owner,
        company: "Synthetic".into(),
        position: position.into(),
        location: None,
        salary: None,
        job_url: None,
        description_excerpt: None,
        status: ApplicationStatus::Saved,
        applied_at: None,
        created_at: now,
        updated_at: now,
        status_history: Vec::new(),
        status_digest: None,
    }
}

/// What the index itself answers (no owner check), as (kind, id).
async fn indexed(app: &TestSearch, owner: Uuid, query: &str) -> Vec<(Kind, Uuid)> {
    let (index, _) = app.index().await;
    let request = SearchRequest::parse(owner, query, None, None).unwrap();
    index.search(&request).await.unwrap().into_iter().map(|hit| (hit.kind, hit.id)).collect()
}

async fn settle(app: &TestSearch, owner: Uuid, query: &str, expected: &[(Kind, Uuid)]) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let found = indexed(app, owner, query).await;
        if found == expected {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{query:?}: {found:?}, not {expected:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn redelivered_and_reordered_events_leave_the_newest_version(engine: Engine) {
    let app = TestSearch::spawn(engine).await;
    let (owner, id) = (Uuid::now_v7(), Uuid::now_v7());
    let v1 = Envelope::new(APPLICATION_CREATED, owner, id, 1, &snapshot(owner, id, "Alpha"));
    let v2 = Envelope::new(APPLICATION_UPDATED, owner, id, 2, &snapshot(owner, id, "Bravo"));
    // Newest first, then the older one, then both again (redelivered).
    app.publish([v2.clone(), v1.clone(), v2.clone(), v1.clone()]).await;
    settle(&app, owner, "bravo", &[(Kind::Application, id)]).await;
    assert!(indexed(&app, owner, "alpha").await.is_empty(), "an older version overwrote a newer one");
    let (index, _) = app.index().await;
    assert_eq!(index.live_documents().await.unwrap(), [(Kind::Application, id, 2)]);

    let deleted = ApplicationDeleted { deleted_at: Utc::now(), application: snapshot(owner, id, "Bravo") };
    app.publish([Envelope::new(APPLICATION_DELETED, owner, id, 3, &deleted)]).await;
    settle(&app, owner, "bravo", &[]).await;
    // A late copy of an older version (a new event id) does not bring it back.
    app.publish([Envelope::new(APPLICATION_UPDATED, owner, id, 2, &snapshot(owner, id, "Bravo"))]).await;
    let marker = Uuid::now_v7();
    app.publish([Envelope::new(APPLICATION_CREATED, owner, marker, 1, &snapshot(owner, marker, "Charlie"))]).await;
    settle(&app, owner, "charlie", &[(Kind::Application, marker)]).await;
    assert!(indexed(&app, owner, "bravo").await.is_empty(), "a deleted document came back");
    // Another owner's search never sees it.
    assert!(indexed(&app, Uuid::now_v7(), "charlie").await.is_empty());
}

async fn hits_whose_entity_is_gone_are_dropped(engine: Engine) {
    let app = TestSearch::spawn(engine).await;
    let ada = app.user("Ada").await;
    let owner = Uuid::parse_str(&ada.account.user_id).unwrap();
    let real = create_application(&ada, json!({ "company": "Wayne Enterprises", "position": "Detective" })).await;
    // Indexed, but never created in applications (as if deleted before the
    // deletion reached search).
    let ghost = Uuid::now_v7();
    app.publish([Envelope::new(APPLICATION_CREATED, owner, ghost, 1, &snapshot(owner, ghost, "Detective"))]).await;
    let real_id = Uuid::parse_str(&real).unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    while indexed(&app, owner, "detective").await.len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "both documents are indexed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(indexed(&app, owner, "detective").await.contains(&(Kind::Application, ghost)));
    assert_eq!(search(&ada.search, "detective").await, [("Application".to_string(), real_id.to_string())]);
}

/// A write while the alias is missing (deleted by an operator, a cluster
/// restored empty) is a transient failure, retried, never taken as done,
/// and creates no stray index; deleting what was never indexed is done.
#[tokio::test]
async fn elastic_a_write_without_the_alias_is_retried_not_dropped() {
    use jobtracker_kit::events::HandlerError;
    use jobtracker_search::elastic::{ElasticConfig, ElasticIndex};
    use jobtracker_search::index::SearchIndex;
    use jobtracker_search::model::{Document, Words};

    let osmem = jobtracker_testkit::OsmemServer::start().await;
    let index = ElasticIndex::new(&ElasticConfig {
        url: osmem.url.clone(),
        index: "not-prepared".into(),
        timeout: std::time::Duration::from_secs(5),
    })
    .unwrap();
    let env = jobtracker_testkit::TestEnv::new();
    let pool = jobtracker_kit::db::bootstrap(&env.database("search"), jobtracker_search::MIGRATIONS).await.unwrap();
    let mut conn = pool.get().await.unwrap();
    let words = Words { primary: "Orphan".into(), ..Words::default() };
    let document = Document {
        kind: Kind::Application,
        id: Uuid::now_v7(),
        owner: Some(Uuid::now_v7()),
        version: 1,
        words: Some(words),
    };
    let failed = index.apply(&mut conn, &document).await.unwrap_err();
    assert!(matches!(failed, HandlerError::Transient(_)), "{failed}");
    let indices: serde_json::Value =
        reqwest::get(format!("{}/_cat/indices?format=json", osmem.url)).await.unwrap().json().await.unwrap();
    assert_eq!(indices, serde_json::json!([]), "no index was created");
    assert!(index.apply(&mut conn, &Document { words: None, ..document }).await.is_ok());
}
