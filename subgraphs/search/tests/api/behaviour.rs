//! The matching rules, privacy, kinds, deletes and reindex, once per
//! backend: `postgres::*` and `elastic::*` run the same functions.

use jobtracker_search::reindex::reindex;
use serde_json::json;

use crate::helpers::*;

on_both_backends!(
    words_match_as_a_search_box_does,
    better_matches_come_first_in_a_stable_order,
    private_kinds_are_their_owners_alone_and_kinds_filter,
    updates_and_deletes_reach_the_index,
    a_reindex_equals_the_live_index,
);

async fn words_match_as_a_search_box_does(engine: Engine) {
    let app = TestSearch::spawn(engine).await;
    let ada = app.user("Ada Lovelace").await;
    let rust = create_application(
        &ada,
        json!({ "company": "Ferrous Systems", "position": "Rustacean Engineer", "location": "Zürich" }),
    )
    .await;
    let web =
        create_application(&ada, json!({ "company": "Acme", "position": "Frontend Developer", "location": "Paris" }))
            .await;
    let grace =
        create_contact(&ada, json!({ "name": "Grace Hopper", "company": "US Navy", "notes": "COBOL pioneer" })).await;
    eventually(&ada.search, "hopper", &[("Contact", &grace)]).await;
    eventually(&ada.search, "frontend", &[("Application", &web)]).await;

    let application = [("Application", rust.as_str())];
    for query in ["zurich", "ZÜRICH", "Zurich", "zürich"] {
        eventually(&ada.search, query, &application).await;
    }
    // The last word as it is being typed.
    eventually(&ada.search, "rusta", &application).await;
    eventually(&ada.search, "ferrous sys", &application).await;
    // Every word must match, in any field.
    eventually(&ada.search, "rustacean zurich ferrous", &application).await;
    eventually(&ada.search, "rustacean paris", &[]).await;
    // Typos: one edit in 5–7 letters, two from 8.
    eventually(&ada.search, "enginer", &application).await;
    eventually(&ada.search, "Hoper", &[("Contact", &grace)]).await;
    eventually(&ada.search, "rustaceen enginere", &application).await;
    // Shorter words must be exact (a prefix, if last).
    eventually(&ada.search, "acne developer", &[]).await;
    eventually(&ada.search, "cobol", &[("Contact", &grace)]).await;
    // Only punctuation: nothing to look for, not an error.
    eventually(&ada.search, "?!", &[]).await;
}

async fn better_matches_come_first_in_a_stable_order(engine: Engine) {
    let app = TestSearch::spawn(engine).await;
    let ada = app.user("Ada").await;
    let in_description = create_application(
        &ada,
        json!({ "company": "Acme", "position": "Kotlin Developer", "jobDescription": "Some Rust would help." }),
    )
    .await;
    let in_position = create_application(&ada, json!({ "company": "Acme", "position": "Rust Developer" })).await;
    let in_company = create_application(&ada, json!({ "company": "Rust Belt Inc", "position": "Accountant" })).await;
    eventually(
        &ada.search,
        "rust",
        &[("Application", &in_position), ("Application", &in_company), ("Application", &in_description)],
    )
    .await;
    // An exact word ranks above a typo of it.
    let exact = create_application(&ada, json!({ "company": "Globex", "position": "Painter" })).await;
    let near = create_application(&ada, json!({ "company": "Globex", "position": "Paintor" })).await;
    eventually(&ada.search, "painter", &[("Application", &exact), ("Application", &near)]).await;
    // Ties keep one order, by id.
    let mut twins = Vec::new();
    for _ in 0..3 {
        twins.push(create_application(&ada, json!({ "company": "Initech", "position": "Tester" })).await);
    }
    twins.sort();
    let expected: Vec<(&str, &str)> = twins.iter().map(|id| ("Application", id.as_str())).collect();
    eventually(&ada.search, "initech", &expected).await;
    for _ in 0..3 {
        assert_eq!(search(&ada.search, "initech").await.len(), 3);
        eventually(&ada.search, "initech", &expected).await;
    }
    // Scores are positive and never increase down the list.
    let response = ada.search.run(SEARCH, json!({ "q": "rust" })).await;
    let scores: Vec<f64> =
        response.data()["search"].as_array().unwrap().iter().map(|r| r["score"].as_f64().unwrap()).collect();
    assert!(scores.iter().all(|s| *s > 0.0) && scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
}

async fn private_kinds_are_their_owners_alone_and_kinds_filter(engine: Engine) {
    let app = TestSearch::spawn(engine).await;
    let ada = app.user("Ada Lovelace").await;
    let bob = app.user("Bob Byte").await;
    let adas = create_application(&ada, json!({ "company": "Quantum Labs", "position": "Engineer" })).await;
    let adas_contact = create_contact(&ada, json!({ "name": "Quincy Quantum" })).await;
    let bobs = create_application(&bob, json!({ "company": "Quantum Labs", "position": "Engineer" })).await;
    update_profile(&ada, json!({ "headline": "Quantum engineer", "skills": ["Qiskit"], "location": "Lyon" })).await;
    let ada_id = ada.account.user_id.as_str();

    // Bob finds his own application and Ada's public profile, never her private records.
    eventually_unordered(&bob.search, "quantum", &[("Application", &bobs), ("User", ada_id)]).await;
    eventually(&bob.search, "quincy", &[]).await;
    eventually_unordered(
        &ada.search,
        "quantum",
        &[("Application", &adas), ("Contact", &adas_contact), ("User", ada_id)],
    )
    .await;
    // Profiles are found by name, headline, skills and location.
    eventually(&bob.search, "lovelace qiskit lyon", &[("User", ada_id)]).await;

    let kinds = |kinds: serde_json::Value| json!({ "q": "quantum", "kinds": kinds });
    assert_eq!(hits(&ada.search.run(SEARCH, kinds(json!(["CONTACT"]))).await), [("Contact".to_string(), adas_contact)]);
    assert_eq!(hits(&bob.search.run(SEARCH, kinds(json!(["USER"]))).await), [("User".to_string(), ada_id.to_string())]);
    assert!(hits(&ada.search.run(SEARCH, kinds(json!([]))).await).is_empty());
    assert_eq!(hits(&ada.search.run(SEARCH, json!({ "q": "quantum", "first": 1 })).await).len(), 1);
    assert!(hits(&ada.search.run(SEARCH, json!({ "q": "quantum", "first": 0 })).await).is_empty());

    // Bounded before any work, with the contract's codes.
    let refused = |q: String, first: i32| ada.search.run(SEARCH, json!({ "q": q, "first": first }));
    for (query, first, field) in [
        ("".to_string(), 20, "query"),
        ("   ".into(), 20, "query"),
        ("x".repeat(201), 20, "query"),
        ("a ".repeat(21), 20, "query"),
        ("quantum".into(), 101, "first"),
        ("quantum".into(), -1, "first"),
    ] {
        let response = refused(query.clone(), first).await;
        assert_eq!(
            (response.error_code(), response.error_field()),
            ("BAD_USER_INPUT", Some(field)),
            "{query:?} {first}"
        );
    }
    let signed_out = app.anonymous_search().run(SEARCH, json!({ "q": "quantum" })).await;
    assert_eq!(signed_out.error_code(), "UNAUTHENTICATED");
}

async fn updates_and_deletes_reach_the_index(engine: Engine) {
    let app = TestSearch::spawn(engine).await;
    let ada = app.user("Ada").await;
    let id = create_application(&ada, json!({ "company": "Umbrella", "position": "Chemist" })).await;
    let contact = create_contact(&ada, json!({ "name": "Wesker Albert" })).await;
    eventually(&ada.search, "umbrella", &[("Application", &id)]).await;
    let renamed = ada
        .applications
        .run(
            "mutation($id: ID!) { updateApplication(id: $id, input: { company: \"Tricell\" }) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert!(renamed.errors().is_empty());
    eventually(&ada.search, "tricell", &[("Application", &id)]).await;
    eventually(&ada.search, "umbrella", &[]).await;
    let moved = ada
        .applications
        .run("mutation($id: ID!) { changeApplicationStatus(id: $id, status: APPLIED) { id } }", json!({ "id": id }))
        .await;
    assert!(moved.errors().is_empty());
    eventually(&ada.search, "tricell chemist", &[("Application", &id)]).await;

    ada.applications.run("mutation($id: ID!) { deleteApplication(id: $id) }", json!({ "id": id })).await;
    ada.contacts.run("mutation($id: ID!) { deleteContact(id: $id) }", json!({ "id": contact })).await;
    eventually(&ada.search, "tricell", &[]).await;
    eventually(&ada.search, "wesker", &[]).await;
    let (index, _) = app.index().await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    while !index.live_documents().await.unwrap().iter().all(|(_, doc, _)| doc.to_string() == ada.account.user_id) {
        assert!(tokio::time::Instant::now() < deadline, "deleted documents are still indexed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn a_reindex_equals_the_live_index(engine: Engine) {
    let app = TestSearch::spawn(engine).await;
    let ada = app.user("Ada Lovelace").await;
    let bob = app.user("Bob Byte").await;
    let kept =
        create_application(&ada, json!({ "company": "Hooli", "position": "Data Engineer", "location": "Genève" }))
            .await;
    let gone = create_application(&ada, json!({ "company": "Hooli", "position": "Intern" })).await;
    let contact = create_contact(&bob, json!({ "name": "Gavin Belson", "company": "Hooli" })).await;
    update_profile(&bob, json!({ "headline": "Hooli alumnus" })).await;
    ada.applications
        .run(
            "mutation($id: ID!) { updateApplication(id: $id, input: { position: \"Data Scientist\" }) { id } }",
            json!({ "id": kept }),
        )
        .await;
    ada.applications.run("mutation($id: ID!) { deleteApplication(id: $id) }", json!({ "id": gone })).await;
    eventually_unordered(&ada.search, "hooli", &[("Application", &kept), ("User", &bob.account.user_id)]).await;
    eventually_unordered(&bob.search, "hooli", &[("Contact", &contact), ("User", &bob.account.user_id)]).await;

    let (index, pool) = app.index().await;
    let live = index.live_documents().await.unwrap();
    assert_eq!(live.len(), 4, "two users, one application, one contact: {live:?}");
    let queries = ["hooli", "geneve", "scientist", "lovelace", "gavin", "alumnus", "data"];
    // As sets: scores may shift with the engine's statistics, not what matches.
    let both = async |query: &str| {
        let (mut adas, mut bobs) = (search(&ada.search, query).await, search(&bob.search, query).await);
        adas.sort();
        bobs.sort();
        (adas, bobs)
    };
    let mut before = Vec::new();
    for query in queries {
        before.push(both(query).await);
    }

    let mut reported = Vec::new();
    let report = reindex(index.clone(), &pool, &app.sources(), |progress| {
        reported.push(matches!(progress, jobtracker_search::reindex::Progress::Written(..)))
    })
    .await
    .unwrap();
    assert_eq!(report.documents, 5, "the deleted application is replayed as a deletion: {report:?}");
    assert!(reported.contains(&true), "progress is reported");
    assert_eq!(index.live_documents().await.unwrap(), live);
    for (query, expected) in queries.iter().zip(&before) {
        assert_eq!(both(query).await, *expected, "{query}");
    }
    // The live consumer keeps writing to the rebuilt index.
    let later = create_application(&ada, json!({ "company": "Pied Piper", "position": "Engineer" })).await;
    eventually(&ada.search, "piper", &[("Application", &later)]).await;
}
