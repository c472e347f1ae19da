//! `PLOG_HASH_BACKEND` decides the default backend (CI runs the tests once
//! with `PLOG_HASH_BACKEND=portable`).

use plog_hash::{Backend, backend_override, default_backend, detected_backend};

#[test]
fn the_variable_decides_the_default_backend() {
    let wanted = backend_override();
    eprintln!(
        "PLOG_HASH_BACKEND: {wanted:?}; default backend: {}; detected: {}",
        default_backend(),
        detected_backend()
    );
    match wanted {
        Some(Ok(backend)) if backend.is_supported() => assert_eq!(default_backend(), backend),
        _ => assert_eq!(default_backend(), detected_backend()),
    }
    // The detected backend is the fastest supported one.
    let fastest = Backend::ALL.into_iter().rev().find(|b| b.is_supported());
    assert_eq!(Some(detected_backend()), fastest);
}
