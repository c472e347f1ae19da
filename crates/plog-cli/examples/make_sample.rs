//! Writes `testdata/sample.plog`, the sample log the README's first command
//! verifies: 800 records (about 1.3 MB) of the engenho-shaped log (openraft entries as
//! engenho-store writes them: a blank entry, a membership change, then K8s
//! resource puts, patches and deletes), from plog-testdata's one generator,
//! written by plog's own writer with contiguous indices.
//!
//! The content is deterministic (a fixed seed), so regenerating it gives the
//! same bytes:
//!
//! ```sh
//! rm -f testdata/sample.plog
//! cargo run -p plog-cli --example make_sample -- testdata/sample.plog
//! ```

use plog_format::IndexOrder;
use plog_writer::{SyncPolicy, Writer, WriterOptions};

const RECORDS: u64 = 800;

/// The generator's seed: "plog".
const SEED: u64 = 0x706c_6f67;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os()
        .nth(1)
        .ok_or("usage: make_sample PATH (the file must not exist)")?;
    let options = WriterOptions {
        sync: SyncPolicy::Manual,
        index_order: IndexOrder::Contiguous,
        ..WriterOptions::default()
    };
    let mut writer = Writer::create(&path, options)?;
    for index in 1..=RECORDS {
        writer.append_raw(index, &plog_testdata::engenho_payload(SEED, index))?;
    }
    let end = writer.close()?;
    eprintln!(
        "wrote {} records, {} bytes, to {}",
        end.records,
        end.len,
        std::path::Path::new(&path).display()
    );
    Ok(())
}
