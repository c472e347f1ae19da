//! The parallel pipeline of every pass: three schedulers over one batch
//! model (`batch.rs`), each in its own file.
//!
//! One thread walks the structure (`read_ahead.rs`, no hashing) and cuts the steps
//! into *batches* of about [`BATCH_COST`](crate::batch::BATCH_COST) bytes of payload. [`run`] spawns
//! each batch as a FIFO task as soon as it is cut (a bounded number in
//! flight) and hands hashed batches to its sink in file order;
//! [`run_local`], whose sink stays on the calling thread, hashes *windows*
//! of batches while it cuts the next window. Either way the sink sees the
//! batches in file order and [`Batch::events`](crate::batch::Batch::events) yields their findings in file
//! order, so the result does not depend on the thread count.
//! [`run_ordered`] (streaming replay) has no cutting thread: each pool
//! thread cuts a batch from the shared walk, processes it and hands it to
//! the sink itself when its turn in file order comes.
//!
//! Memory: a bounded number of batches is alive at a time, and their vectors
//! are reused. Nothing is allocated per record except a [`Corruption`](plog_format::Corruption) per
//! hash mismatch.

mod local;
#[cfg(feature = "json")]
mod ordered;
mod unordered;

pub(crate) use local::run_local;
#[cfg(feature = "json")]
pub(crate) use ordered::run_ordered;
pub(crate) use unordered::run;
