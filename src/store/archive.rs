//! The raw store: `raw/issues/<KEY>.json` and `raw/attachments/<KEY>/<id>_<safe-name>`.
//!
//! Every file is written through a temp file in the same directory, fsynced, renamed over the
//! target and the directory fsynced, so a reader (or a crash) sees the old file or the new one,
//! never a torn one. Every directory the mirror creates is created by [`create_dir_durable`],
//! which fsyncs the parent of each new directory, so a file made durable in a new directory
//! cannot vanish with it after a crash; a move between directories fsyncs both. Paths are built only from validated [`IssueKey`]s, numeric attachment ids
//! and sanitised file names, so nothing from Jira can escape the data directory.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

use crate::config::{DEFAULT_DIR_MODE, DEFAULT_FILE_MODE, OutputConfig};
use crate::key::IssueKey;

/// Longest attachment file name we write, in bytes (ext4 and most filesystems allow 255).
const MAX_NAME_BYTES: usize = 180;

/// The raw half of the mirror under `data_dir/raw`.
#[derive(Debug, Clone)]
pub struct RawStore {
    data_dir: PathBuf,
}

impl RawStore {
    /// A store rooted at `data_dir` (which holds `raw/`).
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        RawStore {
            data_dir: data_dir.into(),
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Creates `raw/issues` and `raw/attachments`, and removes temp files that a killed
    /// process left behind in `raw/issues`.
    pub(crate) fn ensure_dirs(&self) -> io::Result<()> {
        create_dir_durable(&self.issues_dir())?;
        create_dir_durable(&self.attachments_root())?;
        remove_orphaned_temp_files(&self.issues_dir())
    }

    /// `raw/issues`.
    pub fn issues_dir(&self) -> PathBuf {
        self.data_dir.join("raw").join("issues")
    }

    /// `raw/issues/<KEY>.json`.
    pub fn issue_path(&self, key: &IssueKey) -> PathBuf {
        self.issues_dir().join(format!("{key}.json"))
    }

    /// `raw/attachments`.
    pub(crate) fn attachments_root(&self) -> PathBuf {
        self.data_dir.join("raw").join("attachments")
    }

    /// `raw/attachments/<KEY>`.
    pub(crate) fn attachments_dir(&self, key: &IssueKey) -> PathBuf {
        self.attachments_root().join(key.as_str())
    }

    /// `local_path` of an attachment as the tables record it: relative to `data_dir`.
    pub(crate) fn attachment_rel_path(key: &IssueKey, file_name: &str) -> String {
        format!("raw/attachments/{key}/{file_name}")
    }

    /// Writes the issue JSON atomically.
    pub(crate) fn save_issue(&self, key: &IssueKey, issue: &Value) -> io::Result<PathBuf> {
        let path = self.issue_path(key);
        // Compact: these files are parsed again by every rebuild, and indentation is a large share of
        // a pretty-printed issue's bytes (`jq .` pretty-prints for people).
        let bytes = crate::json::to_vec(issue).map_err(io::Error::other)?;
        write_atomic(&path, &bytes)?;
        Ok(path)
    }

    /// Reads a saved issue, `None` if there is none. Any depth parses; drop the value with
    /// [`crate::json::drop_deep`] (or hold it in a [`crate::json::DeepValue`]).
    pub(crate) fn load_issue(&self, key: &IssueKey) -> io::Result<Option<Value>> {
        match fs::read(self.issue_path(key)) {
            Ok(bytes) => crate::json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the issue's JSON exists.
    pub(crate) fn has_issue(&self, key: &IssueKey) -> bool {
        self.issue_path(key).is_file()
    }

    /// Removes an issue's JSON and attachment folder (deleted upstream, or moved away).
    pub(crate) fn remove_issue(&self, key: &IssueKey) -> io::Result<()> {
        remove_file_if_exists(&self.issue_path(key))?;
        match fs::remove_dir_all(self.attachments_dir(key)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        sync_dir(&self.attachments_root())?;
        sync_dir(&self.issues_dir())
    }

    /// Moves an issue removed upstream (deleted, or out of the scope) out of the mirror into
    /// `quarantine/<date>/` (its JSON to `issues/<KEY>.json`, its attachment folder to
    /// `attachments/<KEY>/`), where [`RawStore::prune_quarantine`] removes it after the
    /// configured days: a removal that was a mistake (a permission change, a wrong scope) can
    /// be undone by hand meanwhile. A copy quarantined earlier the same day is replaced.
    ///
    /// Each move is a rename: the destination folder is created durably, and after the rename
    /// both the destination's and the source's folders are fsynced, so after a crash the
    /// issue is in one place or the other, never lost from both.
    pub(crate) fn quarantine_issue(
        &self,
        key: &IssueKey,
        today: chrono::NaiveDate,
    ) -> io::Result<()> {
        let day = self
            .quarantine_dir()
            .join(today.format("%Y-%m-%d").to_string());
        let moves = [
            (
                self.issue_path(key),
                day.join("issues").join(format!("{key}.json")),
            ),
            (
                self.attachments_dir(key),
                day.join("attachments").join(key.as_str()),
            ),
        ];
        for (from, to) in moves {
            if !from.exists() {
                continue;
            }
            let parent = to.parent().unwrap_or(&day);
            create_dir_durable(parent)?;
            if to.is_dir() {
                fs::remove_dir_all(&to)?;
            }
            fs::rename(&from, &to)?;
            sync_dir(parent)?;
            sync_dir(from.parent().unwrap_or(&self.data_dir))?;
        }
        Ok(())
    }

    /// `quarantine/`.
    pub(crate) fn quarantine_dir(&self) -> PathBuf {
        self.data_dir.join("quarantine")
    }

    /// Removes `quarantine/<date>/` folders older than `days` days before `today`; returns
    /// how many. Folders whose name is not a date are left alone.
    pub(crate) fn prune_quarantine(
        &self,
        today: chrono::NaiveDate,
        days: u32,
    ) -> io::Result<usize> {
        let entries = match fs::read_dir(self.quarantine_dir()) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(date) = name
                .to_str()
                .and_then(|n| chrono::NaiveDate::parse_from_str(n, "%Y-%m-%d").ok())
            else {
                continue;
            };
            if (today - date).num_days() > i64::from(days) {
                fs::remove_dir_all(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Moves the attachment folder of a moved issue to its new key (if the new one has none),
    /// and fsyncs `raw/attachments` (source and destination of the rename) before the new
    /// issue JSON can record the files under the new key.
    pub(crate) fn move_attachments(&self, from: &IssueKey, to: &IssueKey) -> io::Result<()> {
        let (old, new) = (self.attachments_dir(from), self.attachments_dir(to));
        if old.is_dir() && !new.exists() {
            fs::rename(&old, &new)?;
            sync_dir(&self.attachments_root())?;
        }
        Ok(())
    }

    /// Deletes files in the issue's attachment folder that are not in `keep` (attachments
    /// removed upstream, and `.part-` leftovers of interrupted downloads).
    pub(crate) fn prune_attachments(
        &self,
        key: &IssueKey,
        keep: &HashSet<String>,
    ) -> io::Result<()> {
        let dir = self.attachments_dir(key);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !keep.contains(&name) {
                remove_file_if_exists(&entry.path())?;
            }
        }
        Ok(())
    }
}

/// The file name of attachment `id` with Jira file name `filename`: `<id>_<safe-name>`.
///
/// The name is sanitised (path separators, `..`, control characters and Windows-reserved
/// names replaced), cut to a safe length on a character boundary keeping the extension, and
/// never empty. The id prefix keeps two attachments with the same name apart.
pub(crate) fn attachment_file_name(id: &str, filename: &str) -> String {
    let options = sanitize_filename::Options {
        windows: true,
        truncate: false,
        replacement: "_",
    };
    // Sanitised together with its id prefix, a Windows device name such as `con` keeps its
    // letters (`7_con` is an ordinary name) while separators, `..` and controls still go.
    let prefix = format!("{id}_");
    let visible: String = filename
        .chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .collect();
    let whole = sanitize_filename::sanitize_with_options(format!("{prefix}{visible}"), options);
    let mut safe = whole
        .strip_prefix(&prefix)
        .unwrap_or(&whole)
        .trim_matches(|c: char| c == '.' || c.is_whitespace())
        .to_string();
    if safe.chars().all(|c| c == '_' || c == '.') {
        safe = "attachment".to_string();
    }
    let budget = MAX_NAME_BYTES.saturating_sub(prefix.len());
    if safe.len() > budget {
        let ext = Path::new(&safe)
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .filter(|e| e.len() <= 16)
            .map(|e| format!(".{e}"))
            .unwrap_or_default();
        // No arithmetic here may underflow, whatever the id's length: the cut is clamped to
        // the name and walked down to a character boundary (0 is always one).
        let mut cut = budget.saturating_sub(ext.len()).min(safe.len());
        while !safe.is_char_boundary(cut) {
            cut -= 1;
        }
        safe = format!("{}{ext}", &safe[..cut]);
    }
    format!("{prefix}{safe}")
}

/// The modes new files and folders get (`[output]`), before the umask. Process-wide, like
/// the umask itself: set once by [`set_modes`] when the configuration is loaded.
static FILE_MODE: AtomicU32 = AtomicU32::new(DEFAULT_FILE_MODE);
static DIR_MODE: AtomicU32 = AtomicU32::new(DEFAULT_DIR_MODE);

/// Makes every file and folder written from now on get `output`'s modes (the umask applies).
/// Temp files are created with the final mode, so the rename publishes a readable file:
/// without this they would keep tempfile's owner-only `0600`.
pub(crate) fn set_modes(output: OutputConfig) {
    FILE_MODE.store(output.file_mode, Ordering::Relaxed);
    DIR_MODE.store(output.dir_mode, Ordering::Relaxed);
}

/// The permissions every published file is created with (see [`set_modes`]).
pub(crate) fn file_permissions() -> fs::Permissions {
    fs::Permissions::from_mode(FILE_MODE.load(Ordering::Relaxed))
}

/// Writes `bytes` to `path` atomically: temp file in the same directory, fsync, rename,
/// fsync of the directory. A missing directory is created with [`create_dir_durable`].
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent_or_dot(path);
    create_dir_durable(dir)?;
    let mut temp = tempfile::Builder::new()
        .prefix(&temp_prefix())
        .permissions(file_permissions())
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    #[cfg(test)]
    journal::record(journal::Step::Wrote(path.to_path_buf()));
    sync_dir(dir)
}

/// Copies `from` to `to` atomically like [`write_atomic`], streaming (a month file or an
/// attachment need not fit in memory), and gives the copy `from`'s modification time, so a
/// later comparison of the two sees the copy as current.
pub(crate) fn copy_atomic(from: &Path, to: &Path) -> io::Result<()> {
    let dir = parent_or_dot(to);
    create_dir_durable(dir)?;
    let mut source = fs::File::open(from)?;
    let modified = source.metadata()?.modified()?;
    let mut temp = tempfile::Builder::new()
        .prefix(&temp_prefix())
        .permissions(file_permissions())
        .tempfile_in(dir)?;
    io::copy(&mut source, temp.as_file_mut())?;
    temp.as_file().sync_all()?;
    temp.as_file().set_modified(modified)?;
    temp.persist(to).map_err(|e| e.error)?;
    #[cfg(test)]
    journal::record(journal::Step::Wrote(to.to_path_buf()));
    sync_dir(dir)
}

/// Creates `path` and any missing ancestors, like [`fs::create_dir_all`], and makes each new
/// directory durable: after creating a directory its parent is fsynced (so the new entry
/// survives a crash), walking down from the first existing ancestor in order. Existing
/// directories cost one `stat` and no fsync.
///
/// Fails (never panics) when a component exists but is not a directory, or when creating or
/// syncing fails. A directory another process creates meanwhile is accepted, and its parent
/// fsynced all the same.
pub(crate) fn create_dir_durable(path: &Path) -> io::Result<()> {
    if path.as_os_str().is_empty() {
        // Like `create_dir_all`: the empty path is the working directory, which exists.
        return Ok(());
    }
    // The missing components, deepest first.
    let mut missing = Vec::new();
    let mut current = path;
    loop {
        match fs::metadata(current) {
            Ok(m) if m.is_dir() => break,
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{} exists and is not a directory", current.display()),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing.push(current);
                match current.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => current = parent,
                    // A relative path's first component: its parent is the working directory.
                    _ => break,
                }
            }
            Err(e) => return Err(e),
        }
    }
    let mut builder = fs::DirBuilder::new();
    builder.mode(DIR_MODE.load(Ordering::Relaxed));
    for dir in missing.into_iter().rev() {
        match builder.create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
            Err(e) => return Err(e),
        }
        sync_dir(parent_or_dot(dir))?;
    }
    Ok(())
}

/// The directory holding `path`: its parent, or `.` for a bare relative name.
fn parent_or_dot(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Temp files carry the writer's pid (`.tmp-<pid>-…`), so a later process can tell an
/// orphan (its writer is gone: killed mid-write) from a file another live process is writing.
fn temp_prefix() -> String {
    format!(".tmp-{}-", std::process::id())
}

/// Removes `.tmp-<pid>-…` files in `dir` whose writing process no longer exists. Where
/// processes cannot be looked up (no `/proc`), only files older than an hour are removed.
fn remove_orphaned_temp_files(dir: &Path) -> io::Result<()> {
    let proc_fs = Path::new("/proc/self").exists();
    for entry in fs::read_dir(dir)?.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(".tmp-")) else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or("");
        let orphaned = if proc_fs {
            pid.parse::<u32>().is_err() || !Path::new("/proc").join(pid).exists()
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(3600))
        };
        if orphaned {
            remove_file_if_exists(&entry.path())?;
        }
    }
    Ok(())
}

pub(crate) fn remove_file_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// fsyncs a directory so a rename in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(test)]
    journal::record(journal::Step::SyncDir(dir.to_path_buf()));
    match fs::File::open(dir) {
        Ok(d) => d.sync_all(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Under `cfg(test)` only: the durability steps taken under watched folders (directory
/// fsyncs, atomic writes, attachment renames), in the order they happened, so tests can check
/// the order a crash depends on. Nothing is recorded outside a watched folder, and each test
/// watches its own temp folder, so tests running in parallel do not see each other's steps.
#[cfg(test)]
pub(crate) mod journal {
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, PoisonError};

    /// One recorded step.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) enum Step {
        /// A directory was fsynced ([`super::sync_dir`]).
        SyncDir(PathBuf),
        /// A file was written atomically ([`super::write_atomic`]), before its folder's fsync.
        Wrote(PathBuf),
        /// A downloaded attachment was renamed into place.
        Renamed(PathBuf),
    }

    impl Step {
        fn path(&self) -> &Path {
            match self {
                Step::SyncDir(p) | Step::Wrote(p) | Step::Renamed(p) => p,
            }
        }
    }

    /// Watched roots and the steps taken under each.
    static WATCHED: Mutex<Vec<(PathBuf, Vec<Step>)>> = Mutex::new(Vec::new());

    /// Starts recording the steps under `root`.
    pub(crate) fn watch(root: &Path) {
        WATCHED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((root.to_path_buf(), Vec::new()));
    }

    /// Records `step` if it is under a watched root.
    pub(crate) fn record(step: Step) {
        let mut watched = WATCHED.lock().unwrap_or_else(PoisonError::into_inner);
        for (root, steps) in watched.iter_mut() {
            if step.path().starts_with(root.as_path()) {
                steps.push(step.clone());
            }
        }
    }

    /// The steps recorded under `root` (watched before), in order.
    pub(crate) fn steps(root: &Path) -> Vec<Step> {
        WATCHED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(r, _)| r == root)
            .flat_map(|(_, steps)| steps.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_stay_inside_the_folder() {
        let long = format!("{}.txt", "a".repeat(300));
        for (name, expect_prefix) in [
            ("../../x", "7_"),
            ("con", "7_con"),
            ("..", "7_attachment"),
            ("", "7_attachment"),
            ("a/b\\c:d*e?.pdf", "7_a_b_c_d_e_.pdf"),
            ("rÃ©sumÃ©\u{7f}.pdf", "7_rÃ©sumÃ©"),
            (long.as_str(), "7_aaaa"),
        ] {
            let got = attachment_file_name("7", name);
            assert!(got.starts_with(expect_prefix), "{name:?} -> {got:?}");
            assert!(
                !got.contains('/') && !got.contains('\\') && !got.contains('\0'),
                "{got}"
            );
            assert!(got.len() <= MAX_NAME_BYTES, "{}", got.len());
            assert!(!got.chars().any(char::is_control), "{got:?}");
            let p = Path::new("/base").join(&got);
            assert_eq!(p.parent(), Some(Path::new("/base")));
        }
        assert!(attachment_file_name("7", &long).ends_with(".txt"));
        // Multi-byte characters are never cut in half.
        let wide = "é".repeat(200);
        assert!(attachment_file_name("123", &wide).len() <= MAX_NAME_BYTES);
    }

    proptest::proptest! {
        /// Any id (the pipeline only passes ids of at most 19 digits, but the name builder
        /// must not depend on it) and any file name: no panic, no endless loop, nothing that
        /// leaves the folder; with a real id, never longer than the limit.
        #[test]
        fn names_are_safe_for_any_id_and_file_name(
            id in "[0-9]{1,200}|\\PC{0,300}",
            filename in "\\PC{0,400}",
        ) {
            let got = attachment_file_name(&id, &filename);
            let rest = &got[id.len()..];
            proptest::prop_assert!(!rest.contains('/') && !rest.contains('\\') && !rest.contains('\0'));
            if id.len() <= 19 && id.bytes().all(|b| b.is_ascii_digit()) {
                proptest::prop_assert!(got.len() <= MAX_NAME_BYTES, "{}", got.len());
                proptest::prop_assert!(Path::new("/base").join(&got).parent() == Some(Path::new("/base")));
            }
        }
    }

    #[test]
    fn a_200_digit_id_builds_a_name_without_underflow() {
        let id = "9".repeat(200);
        let got = attachment_file_name(&id, "report.final.pdf");
        assert!(got.starts_with(&id));
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path().join("a")).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn new_directories_are_created_and_each_parent_fsynced_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir(&root).unwrap();
        journal::watch(&root);
        let deep = root.join("a").join("b").join("c");
        create_dir_durable(&deep).unwrap();
        assert!(deep.is_dir());
        use journal::Step::SyncDir;
        assert_eq!(
            journal::steps(&root),
            [
                SyncDir(root.clone()),
                SyncDir(root.join("a")),
                SyncDir(root.join("a/b")),
            ],
            "the parent of every new directory, from the top down"
        );
        // Existing directories: nothing created, nothing synced.
        create_dir_durable(&deep).unwrap();
        create_dir_durable(&root.join("a")).unwrap();
        assert_eq!(journal::steps(&root).len(), 3);
        // One more level below an existing one: only its parent.
        create_dir_durable(&deep.join("d")).unwrap();
        assert_eq!(journal::steps(&root).last(), Some(&SyncDir(deep.clone())));
        assert_eq!(journal::steps(&root).len(), 4);
    }

    #[test]
    fn directories_under_or_in_place_of_a_file_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        fs::write(&file, b"x").unwrap();
        let e = create_dir_durable(&file).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotADirectory, "{e}");
        assert!(e.to_string().contains("not a directory"), "{e}");
        for below in [file.join("sub"), file.join("sub/deeper")] {
            let e = create_dir_durable(&below).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotADirectory, "{below:?}: {e}");
            assert!(!below.exists());
        }
        // And through the writers that use it.
        assert!(write_atomic(&file.join("x.json"), b"{}").is_err());
        let store = RawStore::new(&file);
        assert!(store.ensure_dirs().is_err());
    }

    #[test]
    fn moves_between_folders_fsync_both_folders() {
        let dir = tempfile::tempdir().unwrap();
        journal::watch(dir.path());
        let store = RawStore::new(dir.path());
        store.ensure_dirs().unwrap();
        let key = IssueKey::parse("A-1").unwrap();
        store
            .save_issue(&key, &serde_json::json!({"key": "A-1"}))
            .unwrap();
        create_dir_durable(&store.attachments_dir(&key)).unwrap();
        fs::write(store.attachments_dir(&key).join("1_x"), b"x").unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let before = journal::steps(dir.path()).len();
        store.quarantine_issue(&key, day).unwrap();
        let steps = journal::steps(dir.path())[before..].to_vec();
        let kept = dir.path().join("quarantine/2026-12-01");
        use journal::Step::SyncDir;
        for must in [
            kept.join("issues"),
            store.issues_dir(),
            kept.join("attachments"),
            store.attachments_root(),
            // The new quarantine folders themselves are durable in their parents.
            dir.path().join("quarantine"),
            kept.clone(),
        ] {
            assert!(
                steps.contains(&SyncDir(must.clone())),
                "{must:?} in {steps:?}"
            );
        }

        // A moved issue's attachment folder: its parent is fsynced after the rename.
        let (a, b) = (
            IssueKey::parse("A-2").unwrap(),
            IssueKey::parse("B-2").unwrap(),
        );
        create_dir_durable(&store.attachments_dir(&a)).unwrap();
        let before = journal::steps(dir.path()).len();
        store.move_attachments(&a, &b).unwrap();
        assert_eq!(
            journal::steps(dir.path())[before..],
            [SyncDir(store.attachments_root())]
        );
    }

    #[test]
    fn orphaned_temp_files_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = RawStore::new(dir.path());
        store.ensure_dirs().unwrap();
        let issues = store.issues_dir();
        let orphan = issues.join(".tmp-4000000000-abc");
        let live = issues.join(format!("{}abc", temp_prefix()));
        fs::write(&orphan, b"x").unwrap();
        fs::write(&live, b"x").unwrap();
        store.ensure_dirs().unwrap();
        assert!(!orphan.exists());
        assert!(live.exists());
    }

    #[test]
    fn issues_of_any_depth_save_and_load_on_a_small_stack() {
        let run = || {
            let dir = tempfile::tempdir().unwrap();
            let store = RawStore::new(dir.path());
            store.ensure_dirs().unwrap();
            let key = IssueKey::parse("A-1").unwrap();
            let n = 50_000;
            let text = format!(
                r#"{{"fields":{{"description":{}"x"{}}},"key":"A-1"}}"#,
                r#"{"content":["#.repeat(n),
                "]}".repeat(n)
            );
            let issue = crate::json::from_str(&text).unwrap();
            store.save_issue(&key, &issue).unwrap();
            crate::json::drop_deep(issue);
            assert!(fs::read(store.issue_path(&key)).unwrap() == text.as_bytes());
            let loaded = store.load_issue(&key).unwrap().unwrap();
            assert_eq!(crate::json::depth(&loaded), 2 + 2 * n);
            crate::json::drop_deep(loaded);
        };
        crate::testing::on_small_stack(run);
    }

    #[test]
    fn quarantine_keeps_removed_issues_for_the_configured_days() {
        let dir = tempfile::tempdir().unwrap();
        let store = RawStore::new(dir.path());
        store.ensure_dirs().unwrap();
        let key = IssueKey::parse("A-1").unwrap();
        let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        for n in 0..2 {
            store
                .save_issue(&key, &serde_json::json!({"key": "A-1", "n": n}))
                .unwrap();
            fs::create_dir_all(store.attachments_dir(&key)).unwrap();
            fs::write(store.attachments_dir(&key).join("1_x"), b"x").unwrap();
            store.quarantine_issue(&key, day(1)).unwrap();
        }
        assert!(!store.has_issue(&key));
        assert!(!store.attachments_dir(&key).exists());
        let kept = dir.path().join("quarantine/2026-12-01");
        let json: serde_json::Value =
            serde_json::from_slice(&fs::read(kept.join("issues/A-1.json")).unwrap()).unwrap();
        assert_eq!(json["n"], 1, "the later removal replaces the earlier");
        assert!(kept.join("attachments/A-1/1_x").is_file());
        fs::create_dir_all(dir.path().join("quarantine/notes")).unwrap();
        assert_eq!(store.prune_quarantine(day(31), 30).unwrap(), 0);
        assert_eq!(
            store
                .prune_quarantine(day(1) + chrono::Days::new(31), 30)
                .unwrap(),
            1
        );
        assert!(!kept.exists());
        assert!(dir.path().join("quarantine/notes").exists());
    }

    #[test]
    fn remove_and_move() {
        let dir = tempfile::tempdir().unwrap();
        let store = RawStore::new(dir.path());
        store.ensure_dirs().unwrap();
        let (a, b) = (
            IssueKey::parse("A-1").unwrap(),
            IssueKey::parse("B-1").unwrap(),
        );
        store
            .save_issue(&a, &serde_json::json!({"key": "A-1"}))
            .unwrap();
        fs::create_dir_all(store.attachments_dir(&a)).unwrap();
        fs::write(store.attachments_dir(&a).join("1_x"), b"x").unwrap();
        fs::write(store.attachments_dir(&a).join("2_y"), b"y").unwrap();
        store.move_attachments(&a, &b).unwrap();
        store.remove_issue(&a).unwrap();
        assert!(!store.has_issue(&a));
        assert!(store.attachments_dir(&b).join("1_x").is_file());
        store
            .prune_attachments(&b, &HashSet::from(["1_x".to_string()]))
            .unwrap();
        assert!(!store.attachments_dir(&b).join("2_y").exists());
    }
}
