//! [`Log::verify`]: the whole classification, hashed across the pool and
//! folded in file order into a [`VerifyReport`]; a stream (or a file read in
//! windows) window by window into the same report.

use std::ops::ControlFlow;

use crate::batch::{HashOnly, Tuning};
use crate::report::Reporter;
use crate::schedule;
use crate::stream::PassStream;
use crate::{Log, ReadError, VerifyOptions, VerifyReport};

impl Log {
    /// Verifies the whole file: walks it once, hashes every payload across
    /// the pool chosen by `options.parallelism`, and reports every finding in
    /// file order (each list up to `options.list_limit`, counted exactly
    /// past it). The report is identical for every thread count.
    ///
    /// ```
    /// use plog_mmap::{IndexOrder, Log, Status, VerifyOptions};
    /// let mut bytes = plog_format::MAGIC.to_vec();
    /// plog_format::encode_record_to_vec(1, b"{}", &mut bytes);
    /// plog_format::encode_record_to_vec(3, b"{}", &mut bytes);
    /// let options = VerifyOptions { index_order: IndexOrder::Contiguous, ..Default::default() };
    /// let report = Log::from_bytes(bytes).verify(&options).unwrap();
    /// assert_eq!(report.status(), Status::Clean);
    /// assert_eq!(report.findings.index_violations[0].kind.as_str(), "index_gap");
    /// assert_eq!(report.verdict().as_str(), "rejected");
    /// assert!(!report.passes());
    /// ```
    ///
    /// # Errors
    /// [`ReadError::Changed`] when the file was truncated (or a mapped page
    /// vanished) while it was verified.
    pub fn verify(&self, options: &VerifyOptions) -> Result<VerifyReport, ReadError> {
        self.verify_tuned(options, Tuning::DEFAULT)
    }

    pub(crate) fn verify_tuned(
        &self,
        options: &VerifyOptions,
        tuning: Tuning,
    ) -> Result<VerifyReport, ReadError> {
        if let Some(stream) = self.pass_stream(0) {
            return self.verify_stream(stream?, options, tuning);
        }
        let mut reporter = Reporter::new(self.len(), options);
        let mut changed = false;
        let walked = schedule::run(
            self.walk_data(),
            &options.parallelism,
            tuning,
            &HashOnly,
            self.pass_sink(|batch| {
                if batch.changed {
                    changed = true;
                    return ControlFlow::Break(());
                }
                if let Some(progress) = &options.progress {
                    progress.reached(batch.end);
                }
                if let Some(run) = batch.all_valid()
                    && reporter.valid_run(run)
                {
                    return ControlFlow::Continue(());
                }
                batch.events(|event| {
                    reporter.event(&event);
                    ControlFlow::Continue(())
                })
            }),
        );
        self.walked(walked);
        self.check_unchanged()?;
        if changed {
            return Err(self.changed_error());
        }
        if let Some(progress) = &options.progress {
            progress.reached(self.len());
        }
        Ok(reporter.finish())
    }

    /// [`Log::verify`] of a stream: each window verified as the whole file
    /// is, folded into one report.
    pub(crate) fn verify_stream(
        &self,
        mut stream: PassStream<'_>,
        options: &VerifyOptions,
        tuning: Tuning,
    ) -> Result<VerifyReport, ReadError> {
        let known_len = stream.start()?;
        let mut reporter = Reporter::new(known_len.unwrap_or(0), options);
        let len = stream.run(|walk| {
            let stop = schedule::run(walk, &options.parallelism, tuning, &HashOnly, |batch| {
                if let Some(progress) = &options.progress {
                    progress.reached(batch.end);
                }
                if let Some(run) = batch.all_valid()
                    && reporter.valid_run(run)
                {
                    return ControlFlow::Continue(());
                }
                batch.events(|event| {
                    reporter.event(&event);
                    ControlFlow::Continue(())
                })
            });
            (stop, ControlFlow::Continue(()))
        })?;
        self.walked(len);
        if let Some(progress) = &options.progress {
            progress.reached(len);
        }
        let mut report = reporter.finish();
        report.set_len(len);
        Ok(report)
    }
}
