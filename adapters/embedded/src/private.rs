//! The data folder holds personal data (full NIK and KK numbers, the registry, phone numbers
//! in the SMS outbox) and secrets (the token signing key): on Unix it is the owner's alone.
//!
//! * The folder is created `0700`, and an existing folder that others could read or enter is
//!   set to `0700` ([`private_dir`] says so, for a log line).
//! * Files are created `0600` ([`open_private`]) and existing ones that others could read are
//!   set to `0600` ([`tighten_files`]). Modes are set explicitly after creation, so the result
//!   does not depend on the process's umask.
//! * SQLite creates its `-wal` and `-shm` files with the mode of the database file (its Unix
//!   VFS copies it, umask or not), so a `0600` database keeps them `0600` too; the folder's
//!   `0700` covers them in any case.
//!
//! Elsewhere (Windows) these are plain creations: the folder inherits its parent's ACL.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// The mode of the data folder.
pub const DIR_MODE: u32 = 0o700;
/// The mode of every file in it.
pub const FILE_MODE: u32 = 0o600;

/// What [`private_dir`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirState {
    /// It did not exist: created `0700`.
    Created,
    /// It existed and was already the owner's alone.
    Private,
    /// It existed with this mode, open to others: now `0700`.
    Tightened { was: u32 },
}

/// Creates `dir` (and missing parents, with default permissions) with mode `0700`, or sets an
/// existing `dir` that group or others could use to `0700`.
pub fn private_dir(dir: &Path) -> io::Result<DirState> {
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a folder", dir.display()),
        )),
        Ok(meta) => tighten(dir, &meta, DIR_MODE).map(|was| match was {
            Some(was) => DirState::Tightened { was },
            None => DirState::Private,
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(DIR_MODE);
            }
            match builder.create(dir) {
                Ok(()) => {}
                // Created by another process a moment ago (serve and token started together).
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return private_dir(dir),
                Err(e) => return Err(e),
            }
            set_mode(dir, DIR_MODE)?;
            Ok(DirState::Created)
        }
        Err(e) => Err(e),
    }
}

/// Opens `path` for appending, creating it `0600` if it does not exist.
pub fn open_private_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    let file = options.open(path)?;
    tighten_open(&file)?;
    Ok(file)
}

/// Sets every regular file directly in `dir` that group or others could read or write to
/// `0600`; returns the ones it changed, with their old modes.
pub fn tighten_files(dir: &Path) -> io::Result<Vec<(PathBuf, u32)>> {
    let mut changed = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = match entry.metadata() {
            Ok(m) => m,
            // Removed meanwhile (SQLite's -shm on close): nothing to tighten.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if !meta.is_file() {
            continue;
        }
        match tighten(&entry.path(), &meta, FILE_MODE) {
            Ok(Some(was)) => changed.push((entry.path(), was)),
            Ok(None) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    changed.sort();
    Ok(changed)
}

/// The permission bits of `path` (Unix), for messages and tests.
pub fn mode_of(path: &Path) -> io::Result<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Ok(std::fs::metadata(path)?.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(path).map(|_| 0)
    }
}

/// Sets `path` to `mode` when group or others have any permission on it; the old mode then.
#[cfg(unix)]
fn tighten(path: &Path, meta: &std::fs::Metadata, mode: u32) -> io::Result<Option<u32>> {
    use std::os::unix::fs::PermissionsExt;
    let was = meta.permissions().mode() & 0o7777;
    if was & 0o077 == 0 {
        return Ok(None);
    }
    set_mode(path, mode)?;
    Ok(Some(was))
}

#[cfg(not(unix))]
fn tighten(_: &Path, _: &std::fs::Metadata, _: u32) -> io::Result<Option<u32>> {
    Ok(None)
}

#[cfg(unix)]
fn tighten_open(file: &File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file.metadata()?.permissions().mode() & 0o7777;
    if mode != FILE_MODE && (mode & 0o077 != 0 || mode & 0o600 != 0o600) {
        file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn tighten_open(_: &File) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_folder_is_0700_and_an_open_one_is_tightened() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a").join("data");
        assert_eq!(private_dir(&dir).unwrap(), DirState::Created);
        assert_eq!(mode_of(&dir).unwrap(), 0o700);
        assert_eq!(private_dir(&dir).unwrap(), DirState::Private);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            private_dir(&dir).unwrap(),
            DirState::Tightened { was: 0o755 }
        );
        assert_eq!(mode_of(&dir).unwrap(), 0o700);
    }

    #[test]
    fn files_are_created_0600_and_open_ones_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.jsonl");
        open_private_append(&new).unwrap();
        assert_eq!(mode_of(&new).unwrap(), 0o600);
        let old = dir.path().join("old.sqlite3");
        std::fs::write(&old, b"x").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            tighten_files(dir.path()).unwrap(),
            vec![(old.clone(), 0o644)]
        );
        assert_eq!(mode_of(&old).unwrap(), 0o600);
        assert_eq!(std::fs::read(&old).unwrap(), b"x", "content untouched");
        assert!(tighten_files(dir.path()).unwrap().is_empty());
    }
}
