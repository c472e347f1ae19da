//! The Kubernetes objects and patches the generator puts in entries: Pods
//! with status, Deployments, EndpointSlices, ConfigMaps, Leases.

use serde_json::{Map, Value, json};

use super::ResourceKey;
use super::words::{Ctx, Rng, WORDS};

pub(super) fn key(group: &str, version: &str, kind: &str, ctx: &Ctx, name: String) -> ResourceKey {
    ResourceKey {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        namespace: Some(ctx.namespace.into()),
        name,
    }
}

pub(super) fn pod_name(rng: &mut Rng, ctx: &Ctx) -> String {
    format!("{}-{}-{}", ctx.app, rng.hex(9), rng.suffix(5))
}

pub(super) fn configmap_name(rng: &mut Rng, ctx: &Ctx) -> String {
    format!("{}-config-{}", ctx.app, rng.suffix(4))
}

pub(super) fn labels(rng: &mut Rng, ctx: &Ctx, extra: usize) -> Value {
    let mut labels = Map::new();
    labels.insert("app".into(), ctx.app.into());
    labels.insert("app.kubernetes.io/part-of".into(), ctx.team.into());
    let optional = [
        (
            "app.kubernetes.io/version",
            format!("1.{}", rng.range(0, 40)),
        ),
        ("tier", rng.pick(&["backend", "frontend", "data"]).into()),
        ("pod-template-hash", rng.hex(9)),
        ("environment", rng.pick(&["prod", "staging"]).into()),
    ];
    for (name, value) in optional.into_iter().take(extra) {
        labels.insert(name.into(), value.into());
    }
    Value::Object(labels)
}

pub(super) fn metadata(rng: &mut Rng, ctx: &Ctx, name: &str, labels: Value) -> Map<String, Value> {
    let mut meta = Map::new();
    meta.insert("name".into(), name.into());
    meta.insert("namespace".into(), ctx.namespace.into());
    meta.insert("uid".into(), rng.uid().into());
    meta.insert(
        "resourceVersion".into(),
        ctx.index.saturating_sub(rng.range(0, 3)).to_string().into(),
    );
    meta.insert(
        "creationTimestamp".into(),
        ctx.time(rng.range(60, 2_000_000)).into(),
    );
    meta.insert("labels".into(), labels);
    meta
}

pub(super) fn lease(rng: &mut Rng, ctx: &Ctx) -> (ResourceKey, Value) {
    let node = format!("node-{}", rng.range(1, 120));
    let mut meta = Map::new();
    meta.insert("name".into(), node.clone().into());
    meta.insert("namespace".into(), "kube-node-lease".into());
    meta.insert("uid".into(), rng.uid().into());
    meta.insert("resourceVersion".into(), ctx.index.to_string().into());
    meta.insert(
        "creationTimestamp".into(),
        ctx.time(rng.range(86_400, 9_000_000)).into(),
    );
    meta.insert(
        "ownerReferences".into(),
        json!([{"apiVersion": "v1", "kind": "Node", "name": node, "uid": rng.uid()}]),
    );
    let value = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta,
        "spec": {
            "holderIdentity": node,
            "leaseDurationSeconds": 40,
            "renewTime": ctx.time(0).replace('Z', ".000000Z"),
        },
    });
    let key = ResourceKey {
        group: "coordination.k8s.io".into(),
        version: "v1".into(),
        kind: "Lease".into(),
        namespace: Some("kube-node-lease".into()),
        name: node,
    };
    (key, value)
}

pub(super) fn condition(ctx: &Ctx, kind: &str, status: &str, back: u64) -> Value {
    json!({
        "type": kind,
        "status": status,
        "lastProbeTime": null,
        "lastTransitionTime": ctx.time(back),
    })
}

/// A running container's status; after a restart, with how the previous
/// run ended.
pub(super) fn container_status(
    rng: &mut Rng,
    ctx: &Ctx,
    name: &str,
    image: &str,
    ready: bool,
    restarted: bool,
) -> Value {
    let started = rng.range(30, 90_000);
    let mut status = json!({
        "name": name,
        "image": image,
        "imageID": format!("{}@sha256:{}", image.split(':').next().unwrap_or(image), rng.hex(64)),
        "containerID": format!("containerd://{}", rng.hex(64)),
        "ready": ready,
        "started": true,
        "restartCount": if restarted { rng.range(1, 5) } else { 0 },
        "state": {"running": {"startedAt": ctx.time(started)}},
    });
    if restarted {
        status["lastState"] = json!({"terminated": {
            "containerID": format!("containerd://{}", rng.hex(64)),
            "exitCode": ([1, 137, 143][(rng.next() % 3) as usize]),
            "reason": rng.pick(&["Error", "OOMKilled", "Completed"]),
            "startedAt": ctx.time(started + rng.range(60, 9_000)),
            "finishedAt": ctx.time(started + 1),
        }});
    }
    status
}

pub(super) fn pod_status_patch(rng: &mut Rng, ctx: &Ctx) -> (ResourceKey, Value) {
    let name = pod_name(rng, ctx);
    let ready = rng.chance(80);
    let flag = if ready { "True" } else { "False" };
    let mut status = Map::new();
    status.insert(
        "conditions".into(),
        json!([
            condition(ctx, "Ready", flag, 0),
            condition(ctx, "ContainersReady", flag, 0),
        ]),
    );
    if rng.chance(50) {
        let image = ctx.image(rng);
        let restarted = rng.chance(50);
        status.insert(
            "containerStatuses".into(),
            json!([container_status(
                rng, ctx, ctx.app, &image, ready, restarted
            )]),
        );
    }
    let patch = json!({ "status": status });
    (key("", "v1", "Pod", ctx, name), patch)
}

pub(super) fn deployment_patch(rng: &mut Rng, ctx: &Ctx) -> (ResourceKey, Value) {
    let patch = match rng.range(0, 2) {
        0 => json!({"spec": {"replicas": rng.range(1, 12)}}),
        1 => json!({"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": ctx.time(0),
        }}}}}),
        _ => json!({"status": {
            "observedGeneration": rng.range(1, 90),
            "replicas": 3, "updatedReplicas": 3, "readyReplicas": rng.range(1, 3),
            "availableReplicas": rng.range(1, 3),
        }}),
    };
    (
        key("apps", "v1", "Deployment", ctx, ctx.app.to_string()),
        patch,
    )
}

/// A ConfigMap whose data is 1 to 3 properties files, 2 to 120 lines in all.
pub(super) fn configmap(rng: &mut Rng, ctx: &Ctx) -> (ResourceKey, Value) {
    let name = configmap_name(rng, ctx);
    let labels = labels(rng, ctx, 1);
    let meta = metadata(rng, ctx, &name, labels);
    let mut data = Map::new();
    let files = rng.range(1, 3);
    let lines = match rng.range(0, 99) {
        0..=49 => rng.range(2, 20),
        50..=84 => rng.range(20, 60),
        _ => rng.range(60, 120),
    };
    for file in 0..files {
        let mut text = String::new();
        for line in 0..lines / files {
            let word = rng.pick(WORDS);
            let value = rng.range(1, 100_000);
            text.push_str(&format!("{}.{word}.{line}={value}\n", ctx.app));
        }
        data.insert(format!("application-{file}.properties"), text.into());
    }
    let value = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": data,
    });
    (key("", "v1", "ConfigMap", ctx, name), value)
}

/// A container spec: the main one in full, a sidecar with its image and
/// resources only.
pub(super) fn container(rng: &mut Rng, name: &str, image: &str, main: bool) -> Value {
    let mut c = Map::new();
    c.insert("name".into(), name.into());
    c.insert("image".into(), image.into());
    c.insert("imagePullPolicy".into(), "IfNotPresent".into());
    if main {
        c.insert(
            "ports".into(),
            json!([{"containerPort": 8080, "name": "http", "protocol": "TCP"}]),
        );
        let mut env = vec![
            json!({"name": "LOG_LEVEL", "value": rng.pick(&["info", "debug", "warn"])}),
            json!({"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}),
        ];
        for n in 0..rng.range(0, 3) {
            env.push(json!({
                "name": format!("{}_{}", rng.pick(WORDS).to_uppercase(), n),
                "value": rng.range(1, 10_000).to_string(),
            }));
        }
        c.insert("env".into(), env.into());
        c.insert(
            "readinessProbe".into(),
            json!({"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                   "periodSeconds": 10, "timeoutSeconds": 1, "failureThreshold": 3}),
        );
        c.insert(
            "volumeMounts".into(),
            json!([{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                    "name": "kube-api-access", "readOnly": true}]),
        );
        c.insert(
            "terminationMessagePath".into(),
            "/dev/termination-log".into(),
        );
        c.insert("terminationMessagePolicy".into(), "File".into());
    }
    let requests = json!({"cpu": format!("{}m", rng.range(1, 10) * 50), "memory": format!("{}Mi", rng.range(1, 8) * 64)});
    let resources = if main {
        json!({
            "limits": {"cpu": format!("{}m", rng.range(2, 20) * 100), "memory": format!("{}Mi", rng.range(1, 16) * 128)},
            "requests": requests,
        })
    } else {
        json!({ "requests": requests })
    };
    c.insert("resources".into(), resources);
    Value::Object(c)
}

/// A Pod: just created by its ReplicaSet (Pending, unscheduled), or running
/// with its status. Returns whether it is the creation.
pub(super) fn pod(rng: &mut Rng, ctx: &Ctx) -> (ResourceKey, Value, bool) {
    let name = pod_name(rng, ctx);
    let created = rng.chance(40);
    let containers = match rng.range(0, 99) {
        0..=69 => 1,
        70..=91 => 2,
        _ => 3,
    };
    let extra = rng.range(1, 4) as usize;
    let labels = labels(rng, ctx, extra);
    let mut meta = metadata(rng, ctx, &name, labels);
    meta.insert(
        "generateName".into(),
        name[..name.len() - 5].to_string().into(),
    );
    meta.insert(
        "ownerReferences".into(),
        json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": &name[..name.len() - 6],
                "uid": rng.uid(), "controller": true, "blockOwnerDeletion": true}]),
    );
    if rng.chance(40) {
        meta.insert(
            "annotations".into(),
            json!({"prometheus.io/scrape": "true", "prometheus.io/port": "9090"}),
        );
    }
    if !created && containers == 1 && rng.chance(30) {
        meta.insert(
            "managedFields".into(),
            json!([{"manager": "kubelet", "operation": "Update", "apiVersion": "v1",
                    "time": ctx.time(rng.range(10, 5_000)), "fieldsType": "FieldsV1", "subresource": "status",
                    "fieldsV1": {"f:status": {"f:conditions": {}, "f:containerStatuses": {}, "f:hostIP": {},
                                  "f:phase": {}, "f:podIP": {}, "f:startTime": {}}}}]),
        );
    }
    let main_image = ctx.image(rng);
    let sidecars = [
        ("envoy", "registry.example.com/infra/envoy:v1.29.1"),
        ("log-shipper", "registry.example.com/infra/fluent-bit:2.2.0"),
    ];
    let mut specs = vec![container(rng, ctx.app, &main_image, true)];
    let mut names_images = vec![(ctx.app.to_string(), main_image.clone())];
    for (sidecar, image) in sidecars.iter().take(containers - 1) {
        specs.push(container(rng, sidecar, image, false));
        names_images.push((sidecar.to_string(), image.to_string()));
    }
    let node = format!("node-{}", rng.range(1, 120));
    let mut spec = Map::new();
    spec.insert("containers".into(), specs.into());
    spec.insert(
        "volumes".into(),
        json!([{"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        ]}}]),
    );
    spec.insert(
        "tolerations".into(),
        json!([
            {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
            {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300},
        ]),
    );
    spec.insert("restartPolicy".into(), "Always".into());
    spec.insert("dnsPolicy".into(), "ClusterFirst".into());
    spec.insert("serviceAccountName".into(), "default".into());
    spec.insert("schedulerName".into(), "default-scheduler".into());
    spec.insert("terminationGracePeriodSeconds".into(), 30.into());
    let status = if created {
        json!({"phase": "Pending", "qosClass": "Burstable"})
    } else {
        spec.insert("nodeName".into(), node.into());
        let ready = rng.chance(90);
        let flag = if ready { "True" } else { "False" };
        let started = rng.range(60, 90_000);
        let statuses: Vec<Value> = names_images
            .iter()
            .map(|(n, i)| container_status(rng, ctx, n, i, ready, false))
            .collect();
        json!({
            "phase": "Running",
            "conditions": [
                condition(ctx, "Initialized", "True", started),
                condition(ctx, "Ready", flag, started - 20),
                condition(ctx, "ContainersReady", flag, started - 20),
                condition(ctx, "PodScheduled", "True", started + 1),
            ],
            "hostIP": format!("10.1.{}.{}", rng.range(0, 9), rng.range(2, 250)),
            "podIP": format!("10.244.{}.{}", rng.range(0, 200), rng.range(2, 250)),
            "startTime": ctx.time(started),
            "containerStatuses": statuses,
            "qosClass": "Burstable",
        })
    };
    let value = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec,
        "status": status,
    });
    (key("", "v1", "Pod", ctx, name), value, created)
}

/// An EndpointSlice of a Service with 1 to 9 ready or not-ready endpoints.
pub(super) fn endpoint_slice(rng: &mut Rng, ctx: &Ctx) -> (ResourceKey, Value) {
    let name = format!("{}-{}", ctx.app, rng.suffix(5));
    let mut labels = Map::new();
    labels.insert(
        "endpointslice.kubernetes.io/managed-by".into(),
        "endpointslice-controller.k8s.io".into(),
    );
    labels.insert("kubernetes.io/service-name".into(), ctx.app.into());
    let mut meta = metadata(rng, ctx, &name, Value::Object(labels));
    meta.insert("generateName".into(), format!("{}-", ctx.app).into());
    meta.insert(
        "ownerReferences".into(),
        json!([{"apiVersion": "v1", "kind": "Service", "name": ctx.app, "uid": rng.uid(),
                "controller": true, "blockOwnerDeletion": true}]),
    );
    let endpoints: Vec<Value> = (0..rng.range(1, 9))
        .map(|_| {
            let ready = rng.chance(90);
            json!({
                "addresses": [format!("10.244.{}.{}", rng.range(0, 200), rng.range(2, 250))],
                "conditions": {"ready": ready, "serving": ready, "terminating": false},
                "nodeName": format!("node-{}", rng.range(1, 120)),
                "targetRef": {"kind": "Pod", "name": pod_name(rng, ctx), "namespace": ctx.namespace,
                              "uid": rng.uid()},
                "zone": rng.pick(&["zone-a", "zone-b", "zone-c"]),
            })
        })
        .collect();
    let value = json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": meta,
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    });
    (
        key("discovery.k8s.io", "v1", "EndpointSlice", ctx, name),
        value,
    )
}

pub(super) fn deployment(rng: &mut Rng, ctx: &Ctx) -> (ResourceKey, Value) {
    let name = ctx.app.to_string();
    let labels = labels(rng, ctx, 2);
    let mut meta = metadata(rng, ctx, &name, labels);
    meta.insert("generation".into(), rng.range(1, 90).into());
    meta.insert(
        "annotations".into(),
        json!({"deployment.kubernetes.io/revision": rng.range(1, 60).to_string()}),
    );
    let image = ctx.image(rng);
    let replicas = rng.range(1, 6);
    let value = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": ctx.app}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": ctx.app, "app.kubernetes.io/part-of": ctx.team}},
                "spec": {
                    "containers": [container(rng, ctx.app, &image, true)],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                },
            },
        },
        "status": {
            "observedGeneration": rng.range(1, 90),
            "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                 "message": "Deployment has minimum availability.",
                 "lastUpdateTime": ctx.time(3_000), "lastTransitionTime": ctx.time(3_000)},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "message": format!("ReplicaSet \"{}-{}\" has successfully progressed.", ctx.app, rng.hex(9)),
                 "lastUpdateTime": ctx.time(600), "lastTransitionTime": ctx.time(90_000)},
            ],
        },
    });
    (key("apps", "v1", "Deployment", ctx, name), value)
}
