//! Classifies plog v1 files with the reference (sequential) scanner.
//!
//! `cargo run -p plog-format --example classify -- testdata/v1/*.plog`

use std::process::ExitCode;

use plog_format::{Status, classify};

fn main() -> ExitCode {
    let mut worst = Status::Clean;
    let mut failed = false;
    for path in std::env::args_os().skip(1) {
        let shown = path.to_string_lossy().into_owned();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) => {
                eprintln!("{shown}: cannot read: {err}");
                failed = true;
                continue;
            }
        };
        let report = classify(&bytes);
        println!(
            "{shown}: {} ({} valid records, {} bytes)",
            report.status(),
            report.records.len(),
            report.file_len
        );
        for corruption in &report.corruptions {
            println!("  {}: {corruption}", corruption.kind());
        }
        if let Some(tail) = report.torn {
            println!("  {tail}");
        }
        worst = worst.max(report.status());
    }
    match (worst, failed) {
        (Status::Corrupt, _) => ExitCode::from(1),
        (_, true) => ExitCode::from(2),
        (Status::Torn, _) => ExitCode::from(3),
        (Status::Clean, _) => ExitCode::SUCCESS,
        // A status this example does not know: not a pass.
        (_, _) => ExitCode::from(1),
    }
}
