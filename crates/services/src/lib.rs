//! The table of services: every subgraph, once, in start order. `jobtracker
//! run` and `migrate`, the supervisor, `jobtracker-schema compose|check`,
//! `events replay-dlq` and the end-to-end tests all read it. Adding a
//! subgraph: its crate, one line here, one entry in supergraph.yaml (the
//! schema check fails while they disagree).

use jobtracker_kit::service::ServiceSpec;

pub const SERVICES: &[&ServiceSpec] = &[
    &jobtracker_auth::SPEC,
    &jobtracker_users::SPEC,
    &jobtracker_applications::SPEC,
    &jobtracker_interviews::SPEC,
    &jobtracker_analytics::SPEC,
    &jobtracker_dashboard::SPEC,
    &jobtracker_contacts::SPEC,
    &jobtracker_files::SPEC,
    &jobtracker_notifications::SPEC,
    &jobtracker_search::SPEC,
];

/// The service of that name.
pub fn find(name: &str) -> Option<&'static ServiceSpec> {
    SERVICES.iter().copied().find(|spec| spec.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ports_are_unique_and_every_call_names_a_service_started_before() {
        let mut names: Vec<&str> = SERVICES.iter().map(|s| s.name).collect();
        let mut ports: Vec<u16> = SERVICES.iter().map(|s| s.default_port).collect();
        for (position, spec) in SERVICES.iter().enumerate() {
            for called in spec.calls {
                let before = SERVICES[..position].iter().any(|s| s.name == *called);
                assert!(before, "{} calls {called}, which must come earlier in the table", spec.name);
            }
        }
        names.sort();
        names.dedup();
        ports.sort();
        ports.dedup();
        assert_eq!((names.len(), ports.len()), (SERVICES.len(), SERVICES.len()));
        assert!(!ports.contains(&4000), "4000 is the router's");
    }
}
