//! Private by default: every log and directory plog-writer creates is
//! `0600` / `0700` whatever the umask (a log of engenho-store carries
//! Kubernetes Secrets), another mode is set exactly when asked for, and an
//! open reports a log that others can read. The umask is process-wide, so
//! the creating runs in a child process (`child::entry`, mode `umask:NNN`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use plog_writer::{Exposure, GroupCommit, SalvageOptions, Writer, WriterOptions, salvage_with};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// In the child, under `umask`: creates every kind of file the writer
/// creates below `root`.
pub fn create_all(umask: u32, root: &Path) {
    // SAFETY: umask(2) only sets this process's file mode creation mask and
    // cannot fail; the child runs this one test on one thread.
    unsafe { libc::umask(umask as libc::mode_t) };
    let (mut writer, report) =
        Writer::open(root.join("new/dirs/w.plog"), WriterOptions::default()).unwrap();
    assert!(report.created);
    assert_eq!(report.exposure, None, "a new log is private");
    writer.append_raw(1, b"{}").unwrap();
    drop(writer);
    drop(GroupCommit::create(root.join("g/g.plog"), WriterOptions::default()).unwrap());
    let chosen = WriterOptions {
        file_mode: 0o644,
        dir_mode: 0o755,
        ..WriterOptions::default()
    };
    let (_, report) = Writer::open(root.join("open/o.plog"), chosen).unwrap();
    assert_eq!(
        report.exposure,
        Some(Exposure {
            file_mode: 0o644,
            dir_mode: Some(0o755)
        }),
        "a chosen readable mode is reported"
    );
    salvage_with(
        root.join("new/dirs/w.plog"),
        root.join("salvaged/s.plog"),
        &SalvageOptions::default(),
    )
    .unwrap();
}

#[test]
fn everything_created_is_private_whatever_the_umask_and_a_chosen_mode_is_exact() {
    for umask in [0o022, 0o000, 0o077] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let (mut child, mut out) = crate::child::spawn(&format!("umask:{umask:o}"), root);
        std::io::Read::read_to_end(&mut out, &mut Vec::new()).unwrap();
        assert!(child.wait().unwrap().success(), "umask {umask:o}");
        for file in ["new/dirs/w.plog", "g/g.plog", "salvaged/s.plog"] {
            assert_eq!(
                mode(&root.join(file)),
                0o600,
                "{file} under umask {umask:o}"
            );
        }
        for created in ["new", "new/dirs", "g", "salvaged"] {
            assert_eq!(
                mode(&root.join(created)),
                0o700,
                "{created} under umask {umask:o}"
            );
        }
        // Chosen modes are set exactly, even where the umask removes bits.
        assert_eq!(mode(&root.join("open/o.plog")), 0o644, "umask {umask:o}");
        assert_eq!(mode(&root.join("open")), 0o755, "umask {umask:o}");
    }
}

#[test]
fn an_open_reports_a_log_others_can_read_and_still_opens_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = dir.path().join("shared.plog");
    drop(Writer::create(&path, WriterOptions::default()).unwrap());
    let (_, report) = Writer::open(&path, WriterOptions::default()).unwrap();
    assert_eq!(report.exposure, None, "0600 in a 0700 directory");

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (_, report) = Writer::open(&path, WriterOptions::default()).unwrap();
    let exposure = report.exposure.expect("a group-readable log is reported");
    assert!(exposure.file_readable_by_others());
    assert!(!exposure.dir_listable_by_others());
    assert_eq!(mode(&path), 0o640, "an existing log keeps its mode");

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (_, report) = Writer::open(&path, WriterOptions::default()).unwrap();
    let exposure = report.exposure.expect("a listable directory is reported");
    assert!(!exposure.file_readable_by_others());
    assert!(exposure.dir_listable_by_others());
    assert!(exposure.to_string().contains("0755"), "{exposure}");
}
