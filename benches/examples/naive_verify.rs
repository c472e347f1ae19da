//! engenho-store's reader as a whole process, for whole-process
//! comparisons with `plog verify` and `b3sum` (BENCHMARKS.md): the magic,
//! then each record's fields with `read_exact` from an unbuffered file, a
//! `Vec` per payload and its BLAKE3 compared, on one thread
//! (`plog_benches::naive_read`). Prints the number of records.
//!
//! ```text
//! cargo run --release -p plog-benches --example naive_verify -- LOG
//! ```
#![allow(missing_docs)]

fn main() {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: naive_verify LOG");
        std::process::exit(2);
    };
    let records = plog_benches::naive_read(std::path::Path::new(&path), |_| ());
    println!("{}", records.len());
}
