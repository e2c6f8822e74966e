//! What analysts can read: the modes of every file and folder the mirror publishes.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::*;

/// Every file and folder below `root` (not `root` itself) with its permission bits.
fn modes_below(root: &Path) -> Vec<(PathBuf, bool, u32)> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                pending.push(path.clone());
            }
            found.push((path, meta.is_dir(), meta.permissions().mode() & 0o7777));
        }
    }
    found
}

/// Runs the binary with umask `022`, as a service manager typically would.
async fn run_with_umask_022(mirror: &Mirror, args: &[&str]) -> Output {
    let mut cmd = mirror.command(args);
    // SAFETY: `umask` is async-signal-safe and touches only the child's own state.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        });
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .expect("join");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The published files: everything under `parquet/`, `raw/` and the distribution folder.
fn published(mirror: &Mirror) -> Vec<(PathBuf, bool, u32)> {
    let mut all = Vec::new();
    for root in [
        mirror.data().join("parquet"),
        mirror.data().join("raw"),
        mirror.dir.path().join("dist"),
    ] {
        all.extend(modes_below(&root));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_files_are_readable_by_group_and_others_under_umask_022() {
    let sim = simulator(6).await;
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            distribution: true,
            ..Default::default()
        },
    );
    run_with_umask_022(&mirror, &["backfill"]).await;
    let files_now = published(&mirror);
    let files = files_now.iter().filter(|(_, dir, _)| !dir).count();
    assert!(
        files > 20,
        "parquet, raw JSON, attachments and copies: {files}"
    );
    assert!(
        files_now
            .iter()
            .any(|(p, _, _)| p.starts_with(mirror.data().join("raw/attachments")) && p.is_file()),
        "an attachment is among them"
    );
    for (path, dir, mode) in &files_now {
        let expected = if *dir { 0o755 } else { 0o644 };
        assert_eq!(*mode, expected, "{} {mode:#o}", path.display());
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_modes_come_from_the_config() {
    let sim = simulator(3).await;
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            distribution: true,
            extra: "\n[output]\nfile_mode = 0o640\ndir_mode = \"750\"\n".into(),
            ..Default::default()
        },
    );
    run_with_umask_022(&mirror, &["backfill"]).await;
    let files_now = published(&mirror);
    assert!(!files_now.is_empty());
    for (path, dir, mode) in &files_now {
        let expected = if *dir { 0o750 } else { 0o640 };
        assert_eq!(*mode, expected, "{} {mode:#o}", path.display());
    }
    // Rewrites keep the mode: a changed issue's files are replaced, not loosened or narrowed.
    sim.add_comment("SUP-1", "a later reply");
    run_with_umask_022(&mirror, &["sweep"]).await;
    for (path, dir, mode) in published(&mirror) {
        let expected = if dir { 0o750 } else { 0o640 };
        assert_eq!(mode, expected, "{} {mode:#o}", path.display());
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_mode_the_owner_cannot_use_is_refused() {
    let sim = simulator(1).await;
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            extra: "\n[output]\nfile_mode = 0o044\ndir_mode = 1777\n".into(),
            ..Default::default()
        },
    );
    let out = mirror.run(&["validate"]).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("output.file_mode"), "{err}");
    assert!(err.contains("output.dir_mode"), "{err}");
    assert!(!mirror.data().join("parquet").exists());
    sim.shutdown().await;
}
