//! Writes an engenho-shaped log (openraft entries carrying Kubernetes
//! objects; see `plog_testdata::engenho_payload`), for whole-process
//! comparisons with `b3sum` and `plog verify`.
//!
//! ```text
//! cargo run --release -p plog-testdata --example make_engenho -- OUT.plog [RECORDS=200000] [SEED=1]
//! ```

use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: make_engenho OUT.plog [RECORDS=200000] [SEED=1]";
    let Some(out) = args.first() else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let number = |at: usize, default: u64| -> Result<u64, String> {
        match args.get(at) {
            None => Ok(default),
            Some(text) => text
                .parse()
                .map_err(|e| format!("expected a number for argument {at}, found {text:?}: {e}")),
        }
    };
    let (records, seed) = match (number(1, 200_000), number(2, 1)) {
        (Ok(records), Ok(seed)) if args.len() <= 3 => (records, seed),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}\n{usage}");
            return ExitCode::from(2);
        }
        _ => {
            eprintln!(
                "expected at most 3 arguments, found {}\n{usage}",
                args.len()
            );
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    match plog_testdata::write_engenho_log_file(out, seed, records) {
        Ok(bytes) => {
            eprintln!(
                "{out}: {records} records, seed {seed}, {bytes} bytes in {:.1} s",
                start.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write {out}: {e}");
            ExitCode::FAILURE
        }
    }
}
