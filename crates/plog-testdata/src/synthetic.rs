//! Small well-formed logs for tests and benchmarks: K8s-like payloads of a
//! chosen size, and a log built from (index, payload) pairs.

/// A realistic K8s-like JSON payload of roughly `target_len` bytes for entry `i`
/// (the shape engenho-store writes: a resource with metadata and a spec).
pub fn k8s_payload(i: u64, target_len: usize) -> Vec<u8> {
    let kinds = [
        "Pod",
        "Service",
        "ConfigMap",
        "Deployment",
        "Secret",
        "Node",
    ];
    let kind = kinds[(i % kinds.len() as u64) as usize];
    let mut payload = format!(
        r#"{{"op":"put","kind":"{kind}","namespace":"ns-{ns}","name":"{lower}-{i}","resourceVersion":{i},"labels":{{"app":"app-{app}","tier":"backend"}},"spec":{{"replicas":{r},"image":"registry.local/app:{v}","pad":""#,
        ns = i % 7,
        lower = kind.to_ascii_lowercase(),
        app = i % 13,
        r = i % 5 + 1,
        v = i % 17,
    );
    let pad = target_len.saturating_sub(payload.len() + 3);
    payload.extend(std::iter::repeat_n('x', pad));
    payload.push_str(r#""}}"#);
    payload.into_bytes()
}

/// A well-formed log holding `records` (index, payload) pairs, magic included.
pub fn build_log<'a>(records: impl IntoIterator<Item = (u64, &'a [u8])>) -> Vec<u8> {
    let mut log = plog_format::MAGIC.to_vec();
    for (index, payload) in records {
        plog_format::encode_record_to_vec(index, payload, &mut log);
    }
    log
}
