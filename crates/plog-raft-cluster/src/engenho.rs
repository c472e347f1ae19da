//! engenho-store's shape: openraft entries whose application data is
//! engenho-store's journal entry (plog-testdata's [`JournalEntry`]), applied
//! to a map of Kubernetes objects keyed by resource, as engenho-store's
//! catalog applies them (put, JSON merge patch, delete; without its
//! resource versions, watches or persisted image).

use std::collections::BTreeMap;
use std::io::Cursor;

use plog_testdata::{EntryPayload, JournalEntry, ResourceKey, engenho_entry};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::state::ClusterConfig;

openraft::declare_raft_types!(
    /// engenho-store's type config: journal entries in, [`Applied`] out.
    pub Eng: D = JournalEntry, R = Applied
);

/// Which object an entry is about: a [`ResourceKey`], ordered.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    /// API group (`""` for the core group).
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace; `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

impl From<ResourceKey> for ObjectKey {
    fn from(key: ResourceKey) -> Self {
        Self {
            group: key.group,
            version: key.version,
            kind: key.kind,
            namespace: key.namespace,
            name: key.name,
        }
    }
}

/// What applying an entry answers the client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// The entry's log index.
    pub index: u64,
    /// Whether the map changed (a patch or delete of an absent object does
    /// not change it).
    pub changed: bool,
}

impl ClusterConfig for Eng {
    type Key = ObjectKey;
    type Value = Value;

    fn apply(command: JournalEntry, index: u64, map: &mut BTreeMap<ObjectKey, Value>) -> Applied {
        let changed = match command {
            JournalEntry::Put { key, value, .. } => {
                map.insert(key.into(), value);
                true
            }
            JournalEntry::Patch { key, patch, .. } => match map.get_mut(&ObjectKey::from(key)) {
                Some(object) => {
                    apply_merge_patch(object, &patch);
                    true
                }
                None => false,
            },
            JournalEntry::Delete { key, .. } => map.remove(&ObjectKey::from(key)).is_some(),
        };
        Applied { index, changed }
    }

    fn no_op(index: u64) -> Applied {
        Applied {
            index,
            changed: false,
        }
    }
}

/// Applies a JSON merge patch (RFC 7386) to `target`: an object patch
/// merges member by member, `null` removes a member, anything else
/// replaces.
pub fn apply_merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(object) = target {
        for (name, value) in members {
            if value.is_null() {
                object.remove(name);
            } else {
                apply_merge_patch(object.entry(name.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// The engenho log's seed for proposals (the append benchmark's).
pub const SEED: u64 = 15;

/// The first `count` journal entries of the engenho-shaped log of `seed`
/// (its blank and membership entries skipped): what clients propose.
pub fn proposals(seed: u64, count: usize) -> Vec<JournalEntry> {
    (1u64..)
        .filter_map(|index| match engenho_entry(seed, index).payload {
            EntryPayload::Normal(entry) => Some(entry),
            EntryPayload::Blank | EntryPayload::Membership(_) => None,
        })
        .take(count)
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// RFC 7386's appendix A, case by case.
    #[test]
    fn merge_patch_follows_rfc_7386() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!([1, 2]),
                json!({"a": "b", "c": null}),
                json!({"a": "b"}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (mut target, patch, expected) in cases {
            let before = target.clone();
            apply_merge_patch(&mut target, &patch);
            assert_eq!(target, expected, "{before} patched with {patch}");
        }
    }

    #[test]
    fn proposals_are_journal_entries_that_change_the_map() {
        let commands = proposals(SEED, 500);
        assert_eq!(commands.len(), 500);
        let mut map = BTreeMap::new();
        let changed = commands
            .into_iter()
            .enumerate()
            .filter(|(i, c)| Eng::apply(c.clone(), *i as u64 + 1, &mut map).changed)
            .count();
        // Puts create objects that later patches and deletes find.
        assert!(changed > 250, "only {changed} of 500 changed the map");
        assert!(!map.is_empty());
    }
}
