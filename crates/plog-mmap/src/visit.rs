//! [`Log::for_each_event`] and [`Log::for_each_step`]: the findings of a
//! log streamed to a callback on the calling thread, from a private copy of
//! each batch of a mapped file (a log in memory is private already: its own
//! bytes, no copy).

use std::ops::ControlFlow;

use plog_format::{Event, Step};

use crate::batch::{Batch, BatchWork, CopyAndHash, HashInPlace, Tuning};
use crate::read_ahead::Walk;
use crate::schedule;
use crate::stream::PassStream;
use crate::{Log, Parallelism, ReadError};

impl Log {
    /// Streams the classification of the file from `offset` (0: the whole
    /// file, magic included; otherwise a record boundary, e.g. the end of
    /// what an earlier pass saw, to follow a growing log after
    /// [`Log::refresh`]) to `visit`, in file order: valid records, each
    /// corruption and the torn tail, the same events as
    /// `plog_format::Scanner`. Hashing runs on the pool of `parallelism`;
    /// `visit` runs on the calling thread and may stop the pass with
    /// [`ControlFlow::Break`].
    ///
    /// The records handed to `visit` borrow bytes that no other process can
    /// change, and that live for the call: a private copy of the file's
    /// bytes, made before they were hashed, for a mapped (or windowed)
    /// file, so that what `visit` sees is exactly what was checked even if
    /// another process rewrites the file meanwhile; the log's own bytes,
    /// hashed where they lie, for a log in memory ([`Log::in_memory`]:
    /// [`Log::from_bytes`], [`Log::read_from`], a small file read at open),
    /// which is private already (a recovery that read a file pays no copy).
    ///
    /// ```
    /// use std::ops::ControlFlow;
    /// use plog_mmap::{Event, Log, Parallelism};
    /// let mut bytes = plog_format::MAGIC.to_vec();
    /// plog_format::encode_record_to_vec(1, b"{}", &mut bytes);
    /// plog_format::encode_record_to_vec(2, b"[1]", &mut bytes);
    /// let mut sizes = Vec::new();
    /// Log::from_bytes(bytes)
    ///     .for_each_event(0, &Parallelism::Current, |event| {
    ///         if let Event::Record(record) = event {
    ///             sizes.push(record.payload().len());
    ///         }
    ///         ControlFlow::Continue(())
    ///     })
    ///     .unwrap();
    /// assert_eq!(sizes, [2, 3]);
    /// ```
    ///
    /// # Errors
    /// [`ReadError::Offset`] when `offset` is past the end,
    /// [`ReadError::Changed`] when the file changed while it was read.
    pub fn for_each_event(
        &self,
        offset: u64,
        parallelism: &Parallelism,
        mut visit: impl FnMut(Event<'_>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, ReadError> {
        self.batch_pass(offset, parallelism, true, |batch| batch.events(&mut visit))
    }

    /// The structural steps of the file from `offset` (see
    /// [`Log::for_each_event`]): records **without** their hash checked,
    /// structural corruptions and the torn tail, borrowing a private copy of
    /// the bytes (a caller may check a record with [`Record::verify`](crate::Record::verify)).
    ///
    /// # Errors
    /// As [`Log::for_each_event`].
    pub fn for_each_step(
        &self,
        offset: u64,
        parallelism: &Parallelism,
        mut visit: impl FnMut(Step<'_>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, ReadError> {
        self.batch_pass(offset, parallelism, false, |batch| batch.steps(&mut visit))
    }

    /// The pass behind [`Log::for_each_event`] and [`Log::for_each_step`]:
    /// batches (copied unless the log is in memory), hashed or not, handed
    /// to `sink` on this thread.
    fn batch_pass(
        &self,
        offset: u64,
        parallelism: &Parallelism,
        hashes: bool,
        sink: impl FnMut(&Batch<'_, ()>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, ReadError> {
        if let Some(stream) = self.pass_stream(offset) {
            return self.copied_pass_stream(stream?, offset, parallelism, hashes, sink);
        }
        let walk = if offset == 0 {
            self.walk_data()
        } else {
            self.walk_data_from(offset)?
        };
        // Bytes in memory are the log's own: nothing can change them while
        // this pass borrows the log, so they are hashed and handed on where
        // they lie. Anything else is copied batch by batch first.
        if self.in_memory().is_some() {
            self.local_pass(walk, parallelism, &HashInPlace { hashes }, sink)
        } else {
            self.local_pass(walk, parallelism, &CopyAndHash { hashes }, sink)
        }
    }

    /// [`Log::batch_pass`] over `walk` with `work` (which copies or not).
    fn local_pass<'a, W: BatchWork<Out = ()>>(
        &'a self,
        walk: Walk<'a>,
        parallelism: &Parallelism,
        work: &W,
        mut sink: impl FnMut(&Batch<'_, ()>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, ReadError> {
        let mut flow = ControlFlow::Continue(());
        let mut changed = false;
        let walked = schedule::run_local(
            walk,
            parallelism,
            Tuning::DEFAULT,
            work,
            self.pass_sink(|batch| {
                changed |= batch.changed;
                flow = if changed {
                    ControlFlow::Break(())
                } else {
                    sink(batch)
                };
                flow
            }),
        );
        self.walked(walked);
        self.check_unchanged()?;
        if changed {
            return Err(self.changed_error());
        }
        Ok(flow)
    }

    /// The event or step pass of a stream (from its start only).
    pub(crate) fn copied_pass_stream(
        &self,
        mut stream: PassStream<'_>,
        offset: u64,
        parallelism: &Parallelism,
        hashes: bool,
        mut sink: impl FnMut(&Batch<'_, ()>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, ReadError> {
        if offset != stream.base() {
            return Err(stream.error(
                offset,
                "a stream is read from its start: expected offset 0".to_string(),
            ));
        }
        stream.start()?;
        let mut flow = ControlFlow::Continue(());
        let len = stream.run(|walk| {
            let work = CopyAndHash { hashes };
            let stop = schedule::run_local(walk, parallelism, Tuning::DEFAULT, &work, |batch| {
                flow = sink(batch);
                flow
            });
            (stop, flow)
        })?;
        self.walked(len);
        Ok(flow)
    }
}
