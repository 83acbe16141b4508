//! `jobtracker deploy kubernetes`: the Kubernetes manifests of the one image,
//! rendered from the table of services, so a service added to the table
//! cannot be forgotten in the deployment. `deploy/kubernetes/jobtracker.yaml`
//! is this output, checked in (a test keeps it current) and validated
//! offline against the Kubernetes schemas by `make test`.
//!
//! Managed PostgreSQL, RabbitMQ, S3, SMTP and Elasticsearch are endpoints in
//! configuration: non-secret ones in the `jobtracker-config` ConfigMap,
//! credentials in the `jobtracker-secrets` Secret (see `secrets.example.yaml`).

use jobtracker_kit::service::ServiceSpec;
use jobtracker_services::SERVICES;
use serde_json::{Value, json};

const NAMESPACE: &str = "jobtracker";
const IMAGE: &str = "ghcr.io/jobtracker/jobtracker:0.1.0";
const ROUTER_PORT: u16 = 4000;
const ROUTER_METRICS_PORT: u16 = 9464;

/// One deployable target: a service of the table, or the router.
struct Target {
    name: &'static str,
    port: u16,
    /// Requests and limits: the router plans and relays every request; the
    /// subgraphs mostly wait on PostgreSQL.
    cpu: (&'static str, &'static str),
    memory: (&'static str, &'static str),
    max_replicas: u32,
}

fn targets(table: &[&ServiceSpec]) -> Vec<Target> {
    let mut targets: Vec<Target> = table
        .iter()
        .map(|spec| Target {
            name: spec.name,
            port: spec.default_port,
            cpu: ("100m", "1"),
            memory: ("128Mi", "512Mi"),
            max_replicas: 6,
        })
        .collect();
    targets.push(Target {
        name: "router",
        port: ROUTER_PORT,
        cpu: ("250m", "2"),
        memory: ("256Mi", "1Gi"),
        max_replicas: 10,
    });
    targets
}

fn labels(name: &str) -> Value {
    json!({ "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "jobtracker" })
}

fn metadata(name: &str) -> Value {
    json!({ "name": name, "namespace": NAMESPACE, "labels": labels(name) })
}

fn config_map(table: &[&ServiceSpec]) -> Value {
    let mut data = serde_json::Map::new();
    for spec in table {
        data.insert(
            format!("{}_URL", spec.name.to_ascii_uppercase()),
            json!(format!("http://{}:{}", spec.name, spec.default_port)),
        );
    }
    let settings = [
        ("LOG_FORMAT", "json"),
        ("RUST_LOG", "info"),
        ("SUPERGRAPH_PATH", "/etc/jobtracker/supergraph.graphql"),
        ("ROUTER_MODE", "production"),
        ("ROUTER_PERSISTED_DOCUMENTS", "/etc/jobtracker/documents/persisted-documents.json"),
        ("ROUTER_METRICS_PORT", "9464"),
        ("CORS_ALLOW_ORIGINS", "https://app.example.com"),
        // Managed endpoints: replace with the provider's.
        ("ELASTICSEARCH_URL", "https://search.example.internal:9200"),
        ("S3_ENDPOINT", "https://s3.eu-west-1.amazonaws.com"),
        ("S3_PUBLIC_ENDPOINT", "https://s3.eu-west-1.amazonaws.com"),
        ("S3_BUCKET", "jobtracker-resumes"),
        ("S3_REGION", "eu-west-1"),
        // Traces over OTLP/HTTP to the cluster's collector.
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.observability:4318"),
    ];
    for (key, value) in settings {
        data.insert(key.into(), json!(value));
    }
    json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata("jobtracker-config"), "data": data })
}

fn env_from() -> Value {
    json!([{ "configMapRef": { "name": "jobtracker-config" } }, { "secretRef": { "name": "jobtracker-secrets" } }])
}

fn security_context() -> Value {
    json!({
        "runAsNonRoot": true,
        "runAsUser": 10001,
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "capabilities": { "drop": ["ALL"] },
    })
}

fn deployment(target: &Target) -> Value {
    let router = target.name == "router";
    let mut ports = vec![json!({ "name": "http", "containerPort": target.port })];
    if router {
        ports.push(json!({ "name": "metrics", "containerPort": ROUTER_METRICS_PORT }));
    }
    // The router is ready once its supergraph is loaded; a subgraph once it serves.
    let readiness = if router { "/readiness" } else { "/health" };
    let mut container = json!({
        "name": target.name,
        "image": IMAGE,
        "args": ["--target", target.name],
        "envFrom": env_from(),
        "env": [
            { "name": format!("{}_HOST", target.name.to_ascii_uppercase()), "value": "0.0.0.0" },
            { "name": "OTEL_SERVICE_NAME", "value": target.name },
        ],
        "ports": ports,
        "readinessProbe": { "httpGet": { "path": readiness, "port": "http" }, "periodSeconds": 5, "failureThreshold": 3 },
        "livenessProbe": { "httpGet": { "path": "/health", "port": "http" }, "initialDelaySeconds": 10, "periodSeconds": 10, "failureThreshold": 6 },
        "resources": {
            "requests": { "cpu": target.cpu.0, "memory": target.memory.0 },
            "limits": { "cpu": target.cpu.1, "memory": target.memory.1 },
        },
        "securityContext": security_context(),
        "volumeMounts": [{ "name": "tmp", "mountPath": "/tmp" }],
    });
    let mut volumes = vec![json!({ "name": "tmp", "emptyDir": {} })];
    if router {
        if let Some(mounts) = container["volumeMounts"].as_array_mut() {
            mounts.push(json!({ "name": "documents", "mountPath": "/etc/jobtracker/documents", "readOnly": true }));
        }
        volumes.push(json!({ "name": "documents", "configMap": { "name": "jobtracker-persisted-documents" } }));
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(target.name),
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app.kubernetes.io/name": target.name } },
            "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": 0, "maxSurge": 1 } },
            "template": {
                "metadata": {
                    "labels": labels(target.name),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/path": "/metrics",
                        "prometheus.io/port": (if router { ROUTER_METRICS_PORT } else { target.port }).to_string(),
                    },
                },
                "spec": {
                    // In-flight requests get the router's shutdown timeout (10 s) and more.
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": { "fsGroup": 10001 },
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    })
}

fn service(target: &Target) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(target.name),
        "spec": {
            "selector": { "app.kubernetes.io/name": target.name },
            "ports": [{ "name": "http", "port": target.port, "targetPort": "http" }],
        },
    })
}

fn autoscaler(target: &Target) -> Value {
    json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(target.name),
        "spec": {
            "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": target.name },
            "minReplicas": 2,
            "maxReplicas": target.max_replicas,
            "metrics": [{ "type": "Resource", "resource": { "name": "cpu", "target": { "type": "Utilization", "averageUtilization": 70 } } }],
        },
    })
}

fn disruption_budget(target: &Target) -> Value {
    json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(target.name),
        "spec": { "minAvailable": 1, "selector": { "matchLabels": { "app.kubernetes.io/name": target.name } } },
    })
}

/// Creates and migrates every database before a rollout (services also
/// migrate at start, under an advisory lock, so the Job is a head start and
/// an early failure, not a requirement).
fn migration_job() -> Value {
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata("jobtracker-migrate"),
        "spec": {
            "backoffLimit": 6,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": { "labels": labels("jobtracker-migrate") },
                "spec": {
                    "restartPolicy": "OnFailure",
                    "containers": [{
                        "name": "migrate",
                        "image": IMAGE,
                        "command": ["jobtracker"],
                        "args": ["migrate"],
                        "envFrom": env_from(),
                        "resources": { "requests": { "cpu": "100m", "memory": "128Mi" }, "limits": { "cpu": "1", "memory": "512Mi" } },
                        "securityContext": security_context(),
                    }],
                },
            },
        },
    })
}

/// Keys in alphabetical order whatever serde_json's map keeps (another
/// crate of the build may switch on its `preserve_order`), so the output
/// never depends on the build.
fn sorted(value: Value) -> serde_yaml::Value {
    match value {
        Value::Object(map) => {
            let entries: std::collections::BTreeMap<String, Value> = map.into_iter().collect();
            serde_yaml::Value::Mapping(
                entries.into_iter().map(|(key, value)| (serde_yaml::Value::String(key), sorted(value))).collect(),
            )
        }
        Value::Array(items) => serde_yaml::Value::Sequence(items.into_iter().map(sorted).collect()),
        // checked: scalars convert one to one.
        scalar => serde_yaml::to_value(scalar).expect("a JSON scalar is a YAML scalar"),
    }
}

/// Every manifest, as one multi-document YAML stream.
pub fn kubernetes() -> String {
    let table: Vec<&ServiceSpec> = SERVICES.to_vec();
    let mut documents = vec![
        json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": NAMESPACE, "labels": labels(NAMESPACE) } }),
        config_map(&table),
        migration_job(),
    ];
    for target in targets(&table) {
        documents.extend([deployment(&target), service(&target), autoscaler(&target), disruption_budget(&target)]);
    }
    let header = "# Generated by `jobtracker deploy kubernetes` from the table of services; do not edit.\n";
    let body: Vec<String> = documents
        .into_iter()
        .map(|doc| serde_yaml::to_string(&sorted(doc)).expect("plain JSON values serialise"))
        .collect();
    format!("{header}---\n{}", body.join("---\n"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_checked_in_manifests_are_current() {
        let checked_in = include_str!("../deploy/kubernetes/jobtracker.yaml");
        assert!(
            checked_in == super::kubernetes(),
            "deploy/kubernetes/jobtracker.yaml is stale: run `cargo run -- deploy kubernetes > deploy/kubernetes/jobtracker.yaml`"
        );
    }

    #[test]
    fn every_target_has_its_deployment_service_autoscaler_and_budget() {
        let text = super::kubernetes();
        let documents: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&text)
            .map(|doc| serde::Deserialize::deserialize(doc).expect("YAML document"))
            .collect();
        let has = |kind: &str, name: &str| {
            documents
                .iter()
                .any(|doc| doc["kind"].as_str() == Some(kind) && doc["metadata"]["name"].as_str() == Some(name))
        };
        for name in jobtracker_services::SERVICES.iter().map(|s| s.name).chain(["router"]) {
            for kind in ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"] {
                assert!(has(kind, name), "{kind} of {name}");
            }
        }
        assert!(has("Job", "jobtracker-migrate") && has("ConfigMap", "jobtracker-config"));
    }
}
