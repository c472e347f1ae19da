//! Prints each backend's `PLOG_HASH_BACKEND` name and whether this CPU
//! supports it, one per line (`avx2 supported`, `avx512 unsupported`): CI
//! runs the tests once per supported backend.
//!
//! ```text
//! cargo run -p plog-hash --example backends
//! ```

fn main() {
    for backend in plog_hash::Backend::ALL {
        let support = if backend.is_supported() {
            "supported"
        } else {
            "unsupported"
        };
        println!("{} {support}", backend.name());
    }
}
