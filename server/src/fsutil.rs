//! Safe file writes: every write goes to a temp file in the same folder, is synced, then renamed
//! over the target, so a crash or error never leaves a half-written file or loses the original.
//!
//! The target is what the user meant to write: a symlink is followed and the file it points to
//! is replaced (the link stays a link); anything that is not a regular file (a device such as
//! `/dev/full`, a FIFO, a directory, a `/proc` entry) is refused rather than replaced. Temp files
//! are registered while they live, so an interrupted process removes them
//! ([`remove_live_temp_files`], called from the signal handler), and the temp files of a process
//! that died without cleaning up are removed by the next write beside them.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Marks temp files: `.NAME.voicetune-tmp-PID` (optionally followed by `-SUFFIX`).
const TEMP_MARK: &str = ".voicetune-tmp-";

/// The temp files this process has created and not yet renamed or removed.
static LIVE_TEMP_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live_temp_files() -> MutexGuard<'static, Vec<PathBuf>> {
    LIVE_TEMP_FILES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Removes every temp file this process still has open. Called by the signal handler just before
/// the process exits; the registry stays locked, so no new temp file appears afterwards.
pub fn remove_live_temp_files() {
    let live = live_temp_files();
    for path in live.iter() {
        let _ = std::fs::remove_file(path);
    }
    // Keep the lock held until the process exits (the handler exits right after this).
    std::mem::forget(live);
}

fn refuse(path: &Path, what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!(
            "{}: {what}; voicetune only writes regular files (name a file path instead)",
            path.display()
        ),
    )
}

/// The file a write to `path` should replace: `path` itself, or, when it is a symlink, the file
/// it finally points to (which may not exist yet). Refuses directories, devices, FIFOs, sockets
/// and anything under `/proc` or `/sys`.
pub fn output_target(path: &Path) -> std::io::Result<PathBuf> {
    let mut target = path.to_path_buf();
    // The kernel's own limit on links followed in one lookup.
    for _ in 0..40 {
        if target.starts_with("/proc") || target.starts_with("/sys") {
            return Err(refuse(path, "is a kernel file, not a regular file"));
        }
        let meta = match std::fs::symlink_metadata(&target) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(target),
            Err(e) => return Err(e),
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            let link = std::fs::read_link(&target)?;
            target = match target.parent() {
                Some(dir) => dir.join(link),
                None => link,
            };
            continue;
        }
        if kind.is_file() {
            return Ok(target);
        }
        let what = if kind.is_dir() {
            "is a directory"
        } else {
            "is a device, FIFO or socket, not a regular file"
        };
        return Err(refuse(path, what));
    }
    Err(refuse(path, "is a chain of too many symlinks"))
}

/// A temp file beside its target, registered while it lives: dropped without [`persist`], it is
/// removed; a signal removes it too.
///
/// [`persist`]: TempFile::persist
pub struct TempFile {
    path: PathBuf,
    file: Option<File>,
}

impl TempFile {
    /// Creates `.NAME.voicetune-tmp-PID` (with `-SUFFIX` when `suffix` is not empty) beside
    /// `target`, which should come from [`output_target`]. Stale temp files of `target` left by
    /// processes that no longer run are removed first.
    pub fn beside(target: &Path, suffix: &str) -> std::io::Result<TempFile> {
        remove_stale_temp_files(target);
        let mut path = temp_path_for(target);
        if !suffix.is_empty() {
            let mut name = path.file_name().unwrap_or_default().to_os_string();
            name.push(format!("-{suffix}"));
            path.set_file_name(name);
        }
        // Created under the registry's lock, so a signal never misses a file being created.
        let mut live = live_temp_files();
        let file = File::create(&path)?;
        live.push(path.clone());
        Ok(TempFile {
            path,
            file: Some(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file (closed once [`TempFile::close`] ran).
    pub fn file(&mut self) -> std::io::Result<&mut File> {
        self.file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("temp file already closed"))
    }

    /// Syncs and closes the file, keeping it on disk until persisted or dropped.
    pub fn close(&mut self) -> std::io::Result<()> {
        if let Some(file) = self.file.take() {
            file.sync_all()?;
        }
        Ok(())
    }

    /// Syncs the file and renames it over `target` (from [`output_target`]).
    pub fn persist(mut self, target: &Path) -> std::io::Result<()> {
        self.close()?;
        std::fs::rename(&self.path, target)?;
        self.unregister();
        Ok(())
    }

    fn unregister(&self) {
        live_temp_files().retain(|p| p != &self.path);
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.file.take().is_some() || self.path.exists() {
            let _ = std::fs::remove_file(&self.path);
        }
        self.unregister();
    }
}

/// Writes `bytes` to `path` atomically (temp file + fsync + rename). A symlink is followed and its
/// target replaced; a path that is not a regular file is refused.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let target = output_target(path)?;
    let mut tmp = TempFile::beside(&target, "")?;
    tmp.file()?.write_all(bytes)?;
    if let Ok(meta) = std::fs::metadata(&target) {
        // Keep the original's permissions when replacing it.
        std::fs::set_permissions(tmp.path(), meta.permissions())?;
    }
    tmp.persist(&target)
}

/// A sibling temp path: `.name.voicetune-tmp-PID`.
fn temp_path_for(path: &Path) -> PathBuf {
    path.with_file_name(format!("{}{}", temp_prefix(path), std::process::id()))
}

/// `.name.voicetune-tmp-`: what every temp file of `path` starts with.
fn temp_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    format!(".{name}{TEMP_MARK}")
}

/// Removes the temp files of `target` left by processes that are gone (killed outright, so no
/// handler ran). Only where liveness can be checked (`/proc`); elsewhere they are left, hidden
/// and ignored.
fn remove_stale_temp_files(target: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let prefix = temp_prefix(target);
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let own = std::process::id();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let digits = rest
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap_or("");
        let Ok(pid) = digits.parse::<u32>() else {
            continue;
        };
        if pid != own && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_through_a_symlink_and_keeps_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.jsonl");
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink("real.jsonl", &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
    }

    #[test]
    fn a_dangling_symlink_creates_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink("new.jsonl", &link).unwrap();
        write_atomic(&link, b"x").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("new.jsonl")).unwrap(),
            "x"
        );
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn refuses_devices_directories_and_proc() {
        let dir = tempfile::tempdir().unwrap();
        for path in [
            Path::new("/dev/null"),
            dir.path(),
            Path::new("/proc/self/fd/1"),
        ] {
            let err = write_atomic(path, b"x").unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{path:?}");
            assert!(err.to_string().contains(&path.display().to_string()));
        }
    }

    #[test]
    fn stale_temp_files_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.jsonl");
        // PIDs above the kernel's maximum (4194304) never run.
        let stale = dir.path().join(".out.jsonl.voicetune-tmp-99999999");
        let stale_split = dir.path().join(".out.jsonl.voicetune-tmp-99999998-train");
        let alive = dir.path().join(".out.jsonl.voicetune-tmp-1");
        for p in [&stale, &stale_split, &alive] {
            std::fs::write(p, "partial").unwrap();
        }
        write_atomic(&out, b"x").unwrap();
        assert!(!stale.exists() && !stale_split.exists());
        assert!(alive.exists(), "PID 1 runs: its temp file is left alone");
    }

    #[test]
    fn live_temp_files_are_registered_until_persisted_or_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t");
        let tmp = TempFile::beside(&target, "x").unwrap();
        let path = tmp.path().to_path_buf();
        assert!(live_temp_files().contains(&path));
        drop(tmp);
        assert!(!path.exists());
        assert!(!live_temp_files().contains(&path));
    }
}
