//! Attacks that went through the router (issue 7): one field buying seconds
//! of CPU. Each must be refused fast and with its code, and leave the system
//! serving.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::System;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extreme_month_ranges_are_refused_fast_and_the_subgraph_survives() {
    let system = System::start().await;
    let (_, ada) = system.sign_up("Ada Lovelace").await;
    for (from, to) in [("-262143-01-01", "+262142-11-30"), ("+262142-12-01", "+262142-12-31")] {
        // Aliases multiplied the cost: thirty of the same field.
        let fields: String = (0..30)
            .map(|i| format!("m{i}: applicationsPerMonth(from: \"{from}\", to: \"{to}\") {{ month count }} "))
            .collect();

        let started = Instant::now();
        let response = ada.run(&format!("{{ analytics {{ {fields} }} }}"), json!({})).await;
        let elapsed = started.elapsed();

        assert_eq!(response.error_code(), "BAD_USER_INPUT", "{from}..{to}: {}", response.body);
        assert_eq!(response.error_field(), Some("from"), "{from}..{to}");
        assert!(elapsed < Duration::from_secs(1), "{from}..{to} answered in {elapsed:?}");
    }
    let fine = ada.run("{ analytics { applicationsPerMonth { month } } }", json!({})).await;
    assert_eq!(fine.data()["analytics"]["applicationsPerMonth"].as_array().unwrap().len(), 12);
}
