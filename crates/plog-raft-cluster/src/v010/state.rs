//! The state machine under openraft 0.10: the same map and the same
//! commands as [`crate::state::MemStateMachine`], applied by the same
//! [`ClusterConfig::apply`] (the engenho object map of [`crate::engenho`]
//! or the key-value map of [`crate::kv`]); only openraft's trait differs.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::{Stream, StreamExt};
use openraft010::entry::RaftEntry;
use openraft010::storage::{
    EntryResponder, RaftSnapshotBuilder, RaftStateMachine, Snapshot, SnapshotMeta,
};
use openraft010::type_config::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft010::{RaftTypeConfig, StoredMembership};
use serde::{Deserialize, Serialize};

use crate::state::ClusterConfig;

/// A command under openraft 0.10, which wants its application data to be
/// `Display` as well: the 0.9 side's command, serialized as itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Command<T>(pub T);

impl<T: Debug> std::fmt::Display for Command<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// An openraft 0.10 type config whose commands are those of a 0.9
/// [`ClusterConfig`] (its `Logic`), applied by the same
/// [`ClusterConfig::apply`].
pub trait Config010: RaftTypeConfig<R = <Self::Logic as openraft::RaftTypeConfig>::R> {
    /// The 0.9 config whose commands and map this config carries.
    type Logic: ClusterConfig;

    /// The command `entry` carries, if it is a normal entry.
    fn command(entry: Self::Entry) -> Option<<Self::Logic as openraft::RaftTypeConfig>::D>;
}

/// What the state machine holds; a snapshot is a copy of it.
pub struct Data<C: Config010> {
    /// The last entry applied.
    pub last_applied: Option<LogIdOf<C>>,
    /// The last membership applied.
    pub last_membership: StoredMembershipOf<C>,
    /// The map.
    pub kv: BTreeMap<<C::Logic as ClusterConfig>::Key, <C::Logic as ClusterConfig>::Value>,
}

impl<C: Config010> Clone for Data<C> {
    fn clone(&self) -> Self {
        Self {
            last_applied: self.last_applied.clone(),
            last_membership: self.last_membership.clone(),
            kv: self.kv.clone(),
        }
    }
}

impl<C: Config010> Default for Data<C> {
    fn default() -> Self {
        Self {
            last_applied: None,
            last_membership: StoredMembership::default(),
            kv: BTreeMap::new(),
        }
    }
}

impl<C: Config010> Debug for Data<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Data")
            .field("last_applied", &self.last_applied)
            .field("last_membership", &self.last_membership)
            .field("entries", &self.kv.len())
            .finish()
    }
}

struct Inner<C: Config010> {
    data: Data<C>,
    snapshot: Option<(SnapshotMetaOf<C>, Data<C>)>,
}

/// An in-memory state machine for openraft 0.10 type config `C` whose
/// commands its [`Config010::Logic`] applies; clones (its snapshot
/// builders) share it.
pub struct MemStateMachine<C: Config010> {
    inner: Arc<Mutex<Inner<C>>>,
}

impl<C: Config010> Clone for MemStateMachine<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C: Config010> Default for MemStateMachine<C> {
    fn default() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                data: Data::default(),
                snapshot: None,
            })),
        }
    }
}

impl<C: Config010> MemStateMachine<C> {
    fn lock(&self) -> MutexGuard<'_, Inner<C>> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A copy of what the state machine holds.
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
}

impl<C: Config010> RaftSnapshotBuilder<C> for MemStateMachine<C> {
    type SnapshotData = Data<C>;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<C, Data<C>>, io::Error> {
        let mut inner = self.lock();
        let meta = SnapshotMeta {
            last_log_id: inner.data.last_applied.clone(),
            last_membership: inner.data.last_membership.clone(),
        };
        let data = inner.data.clone();
        inner.snapshot = Some((meta.clone(), data.clone()));
        Ok(Snapshot {
            meta,
            snapshot: data,
        })
    }
}

impl<C: Config010> RaftStateMachine<C> for MemStateMachine<C> {
    type SnapshotData = Data<C>;
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogIdOf<C>>, StoredMembershipOf<C>), io::Error> {
        let inner = self.lock();
        Ok((
            inner.data.last_applied.clone(),
            inner.data.last_membership.clone(),
        ))
    }

    async fn apply<S>(&mut self, mut entries: S) -> Result<(), io::Error>
    where
        S: Stream<Item = Result<EntryResponder<C>, io::Error>> + Unpin + Send,
    {
        while let Some(item) = entries.next().await {
            let (entry, responder) = item?;
            let log_id = entry.log_id();
            let index = log_id.index;
            let response = {
                let data = &mut self.lock().data;
                data.last_applied = Some(log_id.clone());
                if let Some(membership) = entry.get_membership() {
                    data.last_membership = StoredMembership::new(Some(log_id), membership);
                    C::Logic::no_op(index)
                } else if let Some(command) = C::command(entry) {
                    C::Logic::apply(command, index, &mut data.kv)
                } else {
                    C::Logic::no_op(index)
                }
            };
            if let Some(responder) = responder {
                responder.send(response);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMetaOf<C>,
        snapshot: Data<C>,
    ) -> Result<(), io::Error> {
        let mut inner = self.lock();
        inner.data = snapshot.clone();
        inner.snapshot = Some((meta.clone(), snapshot));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<SnapshotOf<C, Data<C>>>, io::Error> {
        Ok(self.lock().snapshot.clone().map(|(meta, data)| Snapshot {
            meta,
            snapshot: data,
        }))
    }
}
