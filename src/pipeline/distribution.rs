//! The distribution folder (`[distribution] dir`): the copy of the mirror that analysts read.
//!
//! Month files reach it as they are written (`transform::parquet`), but a folder configured
//! after months were written, a copy that failed, or a folder someone emptied would stay
//! incomplete until `transform --rebuild`. So every command that writes **seeds** it first:
//! it copies each file that differs (missing, another size, or older than the mirror's) and
//! removes the copies of month files the mirror no longer has. With `attachments = true` the
//! same goes for `raw/attachments/<KEY>/` (same path in the distribution folder), and each
//! saved or removed issue's folder is brought in line as it happens.
//!
//! Every copy keeps the atomic-copy rule ([`copy_atomic`]: a temp file in the destination
//! folder, fsync, rename, fsync of the folder); the copy takes the source's modification
//! time, so an unchanged file is never copied twice. Only folders the mirror owns there are touched (one
//! per table and reference table, and `raw/attachments/`); files in them that the mirror never writes (anything but
//! `*.parquet` in a table folder) are left alone.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::key::IssueKey;
use crate::store::archive::{copy_atomic, remove_file_if_exists, sync_dir};
use crate::transform::schema::{REFERENCE_TABLES, Table};

/// The folder attachments are copied to, inside the distribution folder: the same relative
/// path as in the data directory, so the `local_path` of an `attachments` row (relative to
/// the data directory) names the copy relative to the distribution folder too. (The folder
/// `attachments/` there is the `attachments` table's.)
pub(crate) const ATTACHMENTS_DIR: &str = "raw/attachments";

/// The distribution folder and what goes into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distribution {
    /// The folder.
    pub dir: PathBuf,
    /// Whether attachments are copied too.
    pub attachments: bool,
}

/// What a seed did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seeded {
    /// Files copied (missing or differing).
    pub copied: u64,
    /// Copies removed (their source is gone).
    pub removed: u64,
}

impl Seeded {
    fn add(&mut self, other: Seeded) {
        self.copied += other.copied;
        self.removed += other.removed;
    }
}

impl Distribution {
    /// Brings the folder in line with `data_dir`: `parquet/<table>/*.parquet` and
    /// `parquet/views.sql`, and with attachments on, `raw/attachments/`. The caller holds the
    /// tables lock, so no month file is replaced meanwhile.
    pub fn seed(&self, data_dir: &Path) -> io::Result<Seeded> {
        let parquet = data_dir.join("parquet");
        let mut seeded = Seeded::default();
        let folders = Table::ALL.iter().map(|t| t.name()).chain(REFERENCE_TABLES);
        for folder in folders {
            seeded.add(sync_folder(
                &parquet.join(folder),
                &self.dir.join(folder),
                |name| name.ends_with(".parquet"),
            )?);
        }
        let views = parquet.join("views.sql");
        if views.is_file() && copy_if_differs(&views, &self.dir.join("views.sql"))? {
            seeded.copied += 1;
        }
        if self.attachments {
            let source = data_dir.join("raw").join("attachments");
            let target = self.dir.join(ATTACHMENTS_DIR);
            let mut keys = HashSet::new();
            for entry in read_dir_or_empty(&source)? {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    keys.insert(entry.file_name());
                    seeded.add(sync_folder(
                        &entry.path(),
                        &target.join(entry.file_name()),
                        is_published,
                    )?);
                }
            }
            // Folders of issues the mirror no longer holds.
            for entry in read_dir_or_empty(&target)? {
                let entry = entry?;
                if entry.file_type()?.is_dir() && !keys.contains(&entry.file_name()) {
                    seeded.add(sync_folder(
                        &source.join(entry.file_name()),
                        &entry.path(),
                        is_published,
                    )?);
                }
            }
        }
        Ok(seeded)
    }

    /// Brings one issue's attachment copies in line with `raw/attachments/<KEY>/` (a folder
    /// that is gone removes the copies). Nothing when attachments are not distributed.
    pub(crate) fn sync_attachments(&self, source: &Path, key: &IssueKey) -> io::Result<Seeded> {
        if !self.attachments {
            return Ok(Seeded::default());
        }
        sync_folder(
            source,
            &self.dir.join(ATTACHMENTS_DIR).join(key.as_str()),
            is_published,
        )
    }
}

/// Whether a file of an attachment folder is published: not a download in progress.
fn is_published(name: &str) -> bool {
    !name.starts_with(".part-") && !name.starts_with(".tmp-")
}

/// Makes `target` hold a copy of every file of `source` whose name passes `wanted`, and no
/// other such file. A missing `source` empties `target` (and removes it when empty).
fn sync_folder(source: &Path, target: &Path, wanted: impl Fn(&str) -> bool) -> io::Result<Seeded> {
    let mut seeded = Seeded::default();
    let mut present = HashSet::new();
    for entry in read_dir_or_empty(source)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(text) = name.to_str() else { continue };
        if !wanted(text) || !entry.file_type()?.is_file() {
            continue;
        }
        present.insert(name.clone());
        if copy_if_differs(&entry.path(), &target.join(&name))? {
            seeded.copied += 1;
        }
    }
    let mut removed_any = false;
    for entry in read_dir_or_empty(target)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(text) = name.to_str() else { continue };
        if wanted(text) && entry.file_type()?.is_file() && !present.contains(&name) {
            remove_file_if_exists(&entry.path())?;
            seeded.removed += 1;
            removed_any = true;
        }
    }
    if removed_any {
        sync_dir(target)?;
        if !source.exists() && fs::remove_dir(target).is_ok() {
            sync_dir(target.parent().unwrap_or(Path::new(".")))?;
        }
    }
    Ok(seeded)
}

/// Copies `from` to `to` atomically when `to` is missing, of another size or older; true
/// when it copied.
fn copy_if_differs(from: &Path, to: &Path) -> io::Result<bool> {
    let source = fs::metadata(from)?;
    if let Ok(copy) = fs::metadata(to)
        && copy.len() == source.len()
        && copy.modified()? >= source.modified()?
    {
        return Ok(false);
    }
    copy_atomic(from, to)?;
    Ok(true)
}

/// The entries of `dir`, none when it does not exist.
fn read_dir_or_empty(dir: &Path) -> io::Result<Vec<io::Result<fs::DirEntry>>> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(entries.collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, bytes: &[u8]) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }

    #[test]
    fn a_seed_copies_what_differs_removes_what_is_gone_and_leaves_foreign_files() {
        let data = tempfile::tempdir().unwrap();
        let dist = tempfile::tempdir().unwrap();
        let d = Distribution {
            dir: dist.path().to_path_buf(),
            attachments: true,
        };
        write(&data.path().join("parquet/issues/2025-01.parquet"), b"jan");
        write(&data.path().join("parquet/views.sql"), b"views");
        write(&data.path().join("raw/attachments/SUP-1/1_a.txt"), b"a");
        write(
            &data.path().join("raw/attachments/SUP-1/.part-x"),
            b"partial",
        );
        write(&dist.path().join("issues/2024-12.parquet"), b"gone");
        write(&dist.path().join("issues/README"), b"someone's note");
        write(&dist.path().join("raw/attachments/OLD-1/9_z.txt"), b"z");

        let seeded = d.seed(data.path()).unwrap();
        assert_eq!(
            seeded,
            Seeded {
                copied: 3,
                removed: 2
            }
        );
        assert_eq!(
            fs::read(dist.path().join("issues/2025-01.parquet")).unwrap(),
            b"jan"
        );
        assert_eq!(fs::read(dist.path().join("views.sql")).unwrap(), b"views");
        assert_eq!(
            fs::read(dist.path().join("raw/attachments/SUP-1/1_a.txt")).unwrap(),
            b"a"
        );
        assert!(!dist.path().join("raw/attachments/SUP-1/.part-x").exists());
        assert!(!dist.path().join("issues/2024-12.parquet").exists());
        assert!(dist.path().join("issues/README").exists(), "not ours");
        assert!(!dist.path().join("raw/attachments/OLD-1").exists());

        // Nothing differs: nothing is copied again.
        assert_eq!(d.seed(data.path()).unwrap(), Seeded::default());
        // A changed source (same size, newer) is copied again.
        std::thread::sleep(std::time::Duration::from_millis(20));
        write(&data.path().join("parquet/issues/2025-01.parquet"), b"JAN");
        assert_eq!(d.seed(data.path()).unwrap().copied, 1);
        assert_eq!(
            fs::read(dist.path().join("issues/2025-01.parquet")).unwrap(),
            b"JAN"
        );
    }

    #[test]
    fn without_attachments_none_are_copied_and_a_missing_mirror_is_no_error() {
        let data = tempfile::tempdir().unwrap();
        let dist = tempfile::tempdir().unwrap();
        let d = Distribution {
            dir: dist.path().join("share"),
            attachments: false,
        };
        assert_eq!(d.seed(data.path()).unwrap(), Seeded::default());
        write(&data.path().join("raw/attachments/SUP-1/1_a.txt"), b"a");
        assert_eq!(d.seed(data.path()).unwrap(), Seeded::default());
        let key = IssueKey::parse("SUP-1").unwrap();
        let source = data.path().join("raw/attachments/SUP-1");
        assert_eq!(
            d.sync_attachments(&source, &key).unwrap(),
            Seeded::default()
        );
        assert!(!d.dir.join("raw").exists());
    }

    #[test]
    fn one_issue_folder_follows_its_source_and_goes_with_it() {
        let data = tempfile::tempdir().unwrap();
        let dist = tempfile::tempdir().unwrap();
        let d = Distribution {
            dir: dist.path().to_path_buf(),
            attachments: true,
        };
        let key = IssueKey::parse("SUP-2").unwrap();
        let source = data.path().join("raw/attachments/SUP-2");
        write(&source.join("1_a.txt"), b"a");
        write(&source.join("2_b.txt"), b"b");
        assert_eq!(d.sync_attachments(&source, &key).unwrap().copied, 2);
        fs::remove_file(source.join("2_b.txt")).unwrap();
        assert_eq!(d.sync_attachments(&source, &key).unwrap().removed, 1);
        fs::remove_dir_all(&source).unwrap();
        assert_eq!(d.sync_attachments(&source, &key).unwrap().removed, 1);
        assert!(!dist.path().join("raw/attachments/SUP-2").exists());
    }
}
