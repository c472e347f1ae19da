//! Writes `testdata/sample.plog`, the sample log the README's first command
//! verifies: 3,000 realistic K8s-like records (puts, patches and deletes of
//! Pods, Services, ConfigMaps, Deployments, Secrets and Nodes across a few
//! namespaces), written by plog's own writer with contiguous indices.
//!
//! The content is deterministic (a fixed-seed generator), so regenerating it
//! gives the same bytes:
//!
//! ```sh
//! rm -f testdata/sample.plog
//! cargo run -p plog-cli --example make_sample -- testdata/sample.plog
//! ```

use plog_format::IndexOrder;
use plog_writer::{SyncPolicy, Writer, WriterOptions};
use serde_json::json;

const RECORDS: u64 = 3_000;

/// A small deterministic generator: the sample must not change from one
/// regeneration to the next.
struct SplitMix(plog_testdata::SplitMix64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        self.0.pick(items)
    }
}

fn entry(index: u64, rng: &mut SplitMix) -> serde_json::Value {
    let kind = rng.pick(&[
        "Pod",
        "Pod",
        "Pod",
        "Service",
        "ConfigMap",
        "Deployment",
        "Secret",
        "Node",
    ]);
    let namespace = rng.pick(&["default", "kube-system", "payments", "search", "monitoring"]);
    let app = rng.pick(&["api", "web", "worker", "cache", "db", "ingest"]);
    let op = match rng.next() % 10 {
        0 => "delete",
        1..=3 => "patch",
        _ => "put",
    };
    let name = format!("{app}-{}", rng.next() % 50);
    let uid = format!("{:016x}-{:04x}", rng.next(), index % 0xffff);
    let spec = match kind {
        "Pod" => json!({
            "nodeName": format!("node-{}", rng.next() % 12),
            "containers": [{
                "name": app,
                "image": format!("registry.local/{app}:1.{}.{}", rng.next() % 9, rng.next() % 30),
                "resources": {"requests": {"cpu": format!("{}m", 100 + rng.next() % 900), "memory": format!("{}Mi", 64 << (rng.next() % 5))}},
                "ports": [{"containerPort": 8000 + rng.next() % 100}],
            }],
            "restartPolicy": "Always",
        }),
        "Service" => json!({
            "type": rng.pick(&["ClusterIP", "NodePort", "LoadBalancer"]),
            "selector": {"app": app},
            "ports": [{"port": 80, "targetPort": 8000 + rng.next() % 100}],
        }),
        "ConfigMap" | "Secret" => json!({
            "data": {"config.yaml": format!("level: {}\nreplicas: {}\n", rng.pick(&["info", "debug", "warn"]), rng.next() % 7)},
        }),
        "Deployment" => json!({
            "replicas": 1 + rng.next() % 6,
            "selector": {"matchLabels": {"app": app}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
        }),
        _ => json!({
            "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": rng.pick(&["True", "True", "True", "False"])}],
        }),
    };
    json!({
        "op": op,
        "key": format!("/registry/{}/{namespace}/{name}", kind.to_ascii_lowercase()),
        "object": {
            "apiVersion": if kind == "Deployment" { "apps/v1" } else { "v1" },
            "kind": kind,
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": uid,
                "resourceVersion": (index * 7 + 1000).to_string(),
                "labels": {"app": app, "tier": rng.pick(&["frontend", "backend", "data"])},
            },
            "spec": spec,
        },
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os()
        .nth(1)
        .ok_or("usage: make_sample PATH (the file must not exist)")?;
    let options = WriterOptions {
        sync: SyncPolicy::Manual,
        index_order: IndexOrder::Contiguous,
        ..WriterOptions::default()
    };
    let mut writer = Writer::create(&path, options)?;
    let mut rng = SplitMix(plog_testdata::SplitMix64(0x706c_6f67)); // "plog"
    for index in 1..=RECORDS {
        writer.append(index, &entry(index, &mut rng))?;
    }
    let end = writer.close()?;
    eprintln!(
        "wrote {} records, {} bytes, to {}",
        end.records,
        end.len,
        std::path::Path::new(&path).display()
    );
    Ok(())
}
