//! Per-issue locks shared by every writer, in this process and in others.
//!
//! The daemon's workers, a `jira-mirror fetch` started by hand while the daemon runs, `sweep`,
//! `poll-sla` and `reconcile` all write an issue's raw JSON, attachments and state row. Two of
//! them on one issue at once could interleave (an older fetch saved after a newer one), so each
//! holds the issue's lock from before its fetch until its save is recorded.
//!
//! The locks are advisory file locks (`flock(2)` through `std::fs::File::lock`, which also
//! excludes two handles of one process) on [`STRIPES`] files under `data_dir/locks/`, an issue
//! mapping to the stripe its key hashes to. Stripes keep the folder small whatever the number
//! of issues; two issues sharing a stripe merely wait for each other. A lock is released when
//! its guard is dropped, and by the kernel when a process dies, so a crash never leaves a
//! stale lock. Taking one blocks a thread, so it runs on tokio's blocking pool.
//!
//! Two more locks live beside the stripes: `tables.lock`, held around every read-modify-write
//! of the month files ([`lock_tables`]: `run`'s table writer and a `fetch` or `transform`
//! beside it would otherwise each rewrite a month from what they read, and the later writer
//! would drop the earlier one's rows), and `daemon.lock`, held by `run` for its lifetime so a
//! second `run` on the same data directory refuses to start ([`lock_daemon`]).
//!
//! One lock at a time: no code path holds an issue or tables guard while taking another, so
//! there is no lock order to get wrong (the daemon's lock is never waited for).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use super::archive::create_dir_durable;

/// Lock files under `data_dir/locks/`.
pub(crate) const STRIPES: u32 = 256;

/// The lock folder of a mirror.
#[derive(Debug, Clone)]
pub struct IssueLocks {
    dir: PathBuf,
}

/// A held issue lock; dropping it releases the lock.
#[derive(Debug)]
pub struct IssueGuard {
    _file: File,
}

impl IssueLocks {
    /// Locks under `data_dir/locks/` (created on first use).
    pub fn new(data_dir: &Path) -> Self {
        IssueLocks {
            dir: data_dir.join("locks"),
        }
    }

    /// Waits for the lock of `key` (an issue key, or any name of an issue-level resource).
    pub async fn lock(&self, key: &str) -> io::Result<IssueGuard> {
        let path = self.path_of(key);
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            create_dir_durable(&dir)?;
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            file.lock()?;
            Ok(IssueGuard { _file: file })
        })
        .await
        .map_err(io::Error::other)?
    }

    /// The stripe file of `key`: FNV-1a of the upper-cased key (keys are case-insensitive
    /// in Jira), so every process maps a key to the same file.
    fn path_of(&self, key: &str) -> PathBuf {
        let mut hash: u32 = 0x811c_9dc5;
        for b in key.bytes() {
            hash ^= u32::from(b.to_ascii_uppercase());
            hash = hash.wrapping_mul(0x0100_0193);
        }
        self.dir.join(format!("{:03}.lock", hash % STRIPES))
    }
}

/// A held whole-mirror lock (`tables.lock`, `daemon.lock`); dropping it releases the lock.
#[derive(Debug)]
pub struct FileGuard {
    _file: File,
}

fn open_lock_file(data_dir: &Path, name: &str) -> io::Result<File> {
    let dir = data_dir.join("locks");
    create_dir_durable(&dir)?;
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(dir.join(name))
}

/// Waits for the lock of the month files of the mirror in `data_dir` (blocking: call it from
/// a blocking thread). Every process takes it around each read-modify-write of month files.
pub(crate) fn lock_tables(data_dir: &Path) -> io::Result<FileGuard> {
    let file = open_lock_file(data_dir, "tables.lock")?;
    file.lock()?;
    Ok(FileGuard { _file: file })
}

/// `run` is already running on this data directory.
#[derive(Debug, thiserror::Error)]
pub enum DaemonLockError {
    /// Another `run` holds the lock.
    #[error(
        "another `jira-mirror run` (pid {}) is already running on {data_dir}; one daemon per data directory",
        pid.map_or_else(|| "unknown".to_string(), |p| p.to_string())
    )]
    Held {
        /// The process id it wrote into the lock file, if readable.
        pid: Option<u32>,
        /// The data directory.
        data_dir: String,
    },
    /// The lock file could not be opened or written.
    #[error("cannot take {path}: {source}")]
    Io {
        /// The lock file.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Takes `locks/daemon.lock` for the life of `run`, without waiting, and writes this
/// process's id into it; [`DaemonLockError::Held`] (naming the other pid) when another `run`
/// holds it. The kernel releases it when the process ends, however it ends.
pub(crate) fn lock_daemon(data_dir: &Path) -> Result<FileGuard, DaemonLockError> {
    use std::io::{Read, Seek, Write};
    let path = data_dir.join("locks").join("daemon.lock");
    let io_error = |source| DaemonLockError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = open_lock_file(data_dir, "daemon.lock").map_err(io_error)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(DaemonLockError::Held {
                pid: text.trim().parse().ok(),
                data_dir: data_dir.display().to_string(),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io_error(e)),
    }
    file.set_len(0)
        .and_then(|()| file.seek(io::SeekFrom::Start(0)))
        .and_then(|_| writeln!(file, "{}", std::process::id()))
        .and_then(|()| file.sync_all())
        .map_err(io_error)?;
    Ok(FileGuard { _file: file })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_second_daemon_lock_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_daemon(dir.path()).unwrap();
        match lock_daemon(dir.path()) {
            Err(e @ DaemonLockError::Held { pid: Some(pid), .. }) => {
                assert_eq!(pid, std::process::id());
                assert!(e.to_string().contains(&pid.to_string()), "{e}");
            }
            other => panic!("{other:?}"),
        }
        drop(held);
        assert!(lock_daemon(dir.path()).is_ok());
    }

    #[test]
    fn a_key_maps_to_one_stripe_whatever_its_case() {
        let locks = IssueLocks::new(Path::new("/tmp/x"));
        assert_eq!(locks.path_of("SUP-1"), locks.path_of("sup-1"));
        assert!(locks.path_of("SUP-1").starts_with("/tmp/x/locks"));
        let stripes: std::collections::HashSet<PathBuf> = (0..2000)
            .map(|n| locks.path_of(&format!("SUP-{n}")))
            .collect();
        assert!(stripes.len() > 200, "keys spread over the stripes");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn holders_of_one_key_never_overlap() {
        let dir = tempfile::tempdir().unwrap();
        let locks = IssueLocks::new(dir.path());
        let inside = Arc::new(AtomicUsize::new(0));
        let max_inside = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (locks, inside, max_inside) =
                    (locks.clone(), inside.clone(), max_inside.clone());
                tokio::spawn(async move {
                    for _ in 0..5 {
                        let _guard = locks.lock("SUP-7").await.unwrap();
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        max_inside.fetch_max(now, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(max_inside.load(Ordering::SeqCst), 1);
    }
}
