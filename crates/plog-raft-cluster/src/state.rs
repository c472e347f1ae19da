//! One small in-memory state machine for every cluster of this workspace:
//! a map from keys to values that each command changes, with snapshots
//! (the serde_json of the map).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::Cursor;
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    BasicNode, Entry, EntryPayload, LogId, RaftSnapshotBuilder, RaftTypeConfig, SnapshotMeta,
    StorageError, StorageIOError, StoredMembership, TokioRuntime,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// An openraft 0.9 type config whose commands change a map: what
/// [`MemStateMachine`] needs to know of it. Its runtime is tokio
/// ([`crate::Cluster`] gives each node its own).
pub trait ClusterConfig:
    RaftTypeConfig<
        NodeId = u64,
        Node = BasicNode,
        Entry = Entry<Self>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = TokioRuntime,
    >
{
    /// The map's key.
    type Key: Ord + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static;
    /// The map's value.
    type Value: Clone + Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static;

    /// Applies `command`, the application data of entry `index`, to `map`;
    /// returns the client's response.
    fn apply(command: Self::D, index: u64, map: &mut BTreeMap<Self::Key, Self::Value>) -> Self::R;

    /// The response to entry `index` when it carries no command (a blank or
    /// membership entry).
    fn no_op(index: u64) -> Self::R;
}

/// What the state machine holds, and what a snapshot carries.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Data<C: ClusterConfig> {
    /// The last entry applied.
    pub last_applied: Option<LogId<u64>>,
    /// The last membership applied.
    pub last_membership: StoredMembership<u64, BasicNode>,
    /// The map (serialized as a list of pairs: keys need not be strings).
    #[serde(with = "pairs")]
    pub kv: BTreeMap<C::Key, C::Value>,
}

impl<C: ClusterConfig> Clone for Data<C> {
    fn clone(&self) -> Self {
        Self {
            last_applied: self.last_applied,
            last_membership: self.last_membership.clone(),
            kv: self.kv.clone(),
        }
    }
}

impl<C: ClusterConfig> Default for Data<C> {
    fn default() -> Self {
        Self {
            last_applied: None,
            last_membership: StoredMembership::default(),
            kv: BTreeMap::new(),
        }
    }
}

impl<C: ClusterConfig> Debug for Data<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Data")
            .field("last_applied", &self.last_applied)
            .field("last_membership", &self.last_membership)
            .field("keys", &self.kv.len())
            .finish()
    }
}

/// A map as a sequence of `(key, value)` pairs.
mod pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        map: &BTreeMap<K, V>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map.iter())
    }

    pub fn deserialize<'de, K, V, D>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(deserializer)?
            .into_iter()
            .collect())
    }
}

struct Inner<C: ClusterConfig> {
    data: Data<C>,
    snapshot: Option<(SnapshotMeta<u64, BasicNode>, Vec<u8>)>,
    built: u64,
}

/// An in-memory state machine over [`Data`]; clones share it.
///
/// Its lock is held only while the map changes, never across an await.
pub struct MemStateMachine<C: ClusterConfig> {
    inner: Arc<Mutex<Inner<C>>>,
}

impl<C: ClusterConfig> Clone for MemStateMachine<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C: ClusterConfig> Default for MemStateMachine<C> {
    fn default() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                data: Data::default(),
                snapshot: None,
                built: 0,
            })),
        }
    }
}

impl<C: ClusterConfig> MemStateMachine<C> {
    fn lock(&self) -> MutexGuard<'_, Inner<C>> {
        // A panic while the map changed leaves it as it was then: still a
        // map, and the test that panicked fails anyway.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A copy of the data.
    pub fn data(&self) -> Data<C> {
        self.lock().data.clone()
    }

    /// The number of keys in the map.
    pub fn len(&self) -> usize {
        self.lock().data.kv.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The current snapshot's metadata.
    pub fn snapshot_meta(&self) -> Option<SnapshotMeta<u64, BasicNode>> {
        self.lock().snapshot.as_ref().map(|s| s.0.clone())
    }
}

impl<C: ClusterConfig> RaftSnapshotBuilder<C> for MemStateMachine<C> {
    async fn build_snapshot(&mut self) -> Result<Snapshot<C>, StorageError<u64>> {
        let mut inner = self.lock();
        let bytes =
            serde_json::to_vec(&inner.data).map_err(|e| StorageIOError::read_state_machine(&e))?;
        inner.built += 1;
        let meta = SnapshotMeta {
            last_log_id: inner.data.last_applied,
            last_membership: inner.data.last_membership.clone(),
            snapshot_id: format!(
                "{}-{}",
                inner.data.last_applied.map_or(0, |l| l.index),
                inner.built
            ),
        };
        inner.snapshot = Some((meta.clone(), bytes.clone()));
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl<C: ClusterConfig> RaftStateMachine<C> for MemStateMachine<C> {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>), StorageError<u64>> {
        let inner = self.lock();
        Ok((inner.data.last_applied, inner.data.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<C::R>, StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<C>> + Send,
        I::IntoIter: Send,
    {
        let mut inner = self.lock();
        let mut out = Vec::new();
        for entry in entries {
            let index = entry.log_id.index;
            inner.data.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => out.push(C::no_op(index)),
                EntryPayload::Normal(command) => {
                    out.push(C::apply(command, index, &mut inner.data.kv));
                }
                EntryPayload::Membership(m) => {
                    inner.data.last_membership = StoredMembership::new(Some(entry.log_id), m);
                    out.push(C::no_op(index));
                }
            }
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<u64>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<u64>> {
        let bytes = snapshot.into_inner();
        let data: Data<C> = serde_json::from_slice(&bytes)
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
        let mut inner = self.lock();
        inner.data = data;
        inner.snapshot = Some((meta.clone(), bytes));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<C>>, StorageError<u64>> {
        let inner = self.lock();
        Ok(inner.snapshot.as_ref().map(|(meta, bytes)| Snapshot {
            meta: meta.clone(),
            snapshot: Box::new(Cursor::new(bytes.clone())),
        }))
    }
}
