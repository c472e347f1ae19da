//! A program written against engenho-store's `PersistentLog`: only its `use`
//! line names plog. If this compiles and passes, switching is one line.

use plog::{PersistentLog, PersistentLogError};

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct ResourceEvent {
    kind: String,
    name: String,
    version: u64,
}

struct Store {
    log: PersistentLog,
    next_index: u64,
}

impl Store {
    fn open(dir: &std::path::Path) -> Result<Store, PersistentLogError> {
        let log = PersistentLog::open(dir.join("resources.log"))?;
        let entries = log.replay::<ResourceEvent>()?;
        let next_index = entries.last().map_or(1, |(index, _)| index + 1);
        Ok(Store { log, next_index })
    }

    fn record(&mut self, event: &ResourceEvent) -> Result<u64, PersistentLogError> {
        let index = self.next_index;
        self.log.append(index, event)?;
        self.next_index += 1;
        Ok(index)
    }
}

fn telemetry_label(err: &PersistentLogError) -> &'static str {
    match err.kind() {
        "io" | "bad_magic" | "hash_mismatch" | "encode" | "decode" => err.kind(),
        _ => "other",
    }
}

#[test]
fn an_engenho_store_program_runs_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    for version in 1..=3 {
        let event = ResourceEvent {
            kind: "Pod".into(),
            name: "web-0".into(),
            version,
        };
        assert_eq!(store.record(&event).unwrap(), version);
    }
    let path: &std::path::Path = store.log.path();
    assert!(path.ends_with("resources.log"));
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.next_index, 4);

    // Error matching as engenho-store's telemetry does it.
    let bad = dir.path().join("bad.log");
    std::fs::write(&bad, b"not a log at all.............").unwrap();
    let err = match PersistentLog::open(bad) {
        Ok(_) => panic!("a bad magic must not open"),
        Err(err) => err,
    };
    assert_eq!(telemetry_label(&err), "bad_magic");
    assert!(matches!(err, PersistentLogError::BadMagic));
    let _variants_exist = |e: PersistentLogError| match e {
        PersistentLogError::Io(message) | PersistentLogError::Encode(message) => message,
        PersistentLogError::BadMagic => String::new(),
        PersistentLogError::HashMismatch { index } => index.to_string(),
        PersistentLogError::Decode { index, detail } => format!("{index} {detail}"),
        _ => String::new(),
    };
}
