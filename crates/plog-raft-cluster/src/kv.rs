//! The key-value type config of plog-raft's tests and cluster example: each
//! command sets one string key to one string value.

use std::collections::BTreeMap;
use std::io::Cursor;

use serde::{Deserialize, Serialize};

use crate::state::ClusterConfig;

/// A command: set `key` to `value`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The key.
    pub key: String,
    /// Its new value.
    pub value: String,
}

/// The previous value of the key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response(pub Option<String>);

openraft::declare_raft_types!(
    /// The key-value type config: `Entry<Config>`, u64 node ids,
    /// `BasicNode`, [`Request`] in, [`Response`] out.
    pub Config: D = Request, R = Response
);

impl ClusterConfig for Config {
    type Key = String;
    type Value = String;

    fn apply(command: Request, _index: u64, map: &mut BTreeMap<String, String>) -> Response {
        Response(map.insert(command.key, command.value))
    }

    fn no_op(_index: u64) -> Response {
        Response(None)
    }
}
