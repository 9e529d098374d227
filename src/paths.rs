//! Where a store lives, what must never be overwritten, and who may read it.
//!
//! A store is a directory `<name>.session/` (so `*.session` in `.gitignore` covers it) with
//! mode 0700 holding files with mode 0600. A path that is a file belongs to another library
//! (Telethon, Pyrogram, grammers, layer-client): opening it is `Error::ForeignFormat`.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Name of the lock file inside a store.
pub(crate) const LOCK_FILE: &str = "LOCK";
/// Name of the redb index inside a store.
pub(crate) const INDEX_FILE: &str = "index.redb";
/// Name of an encrypted store's key file.
pub(crate) const KEY_FILE: &str = "KEY";

/// `bot` → `bot.session`; a path already ending in `.session` is kept.
pub fn store_dir(path: &Path) -> PathBuf {
    if path.extension().is_some_and(|e| e == "session") {
        path.to_owned()
    } else {
        let mut s = path.as_os_str().to_owned();
        s.push(".session");
        PathBuf::from(s)
    }
}

/// The effective uid of this process.
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Refuses a path that is a file (another library's session) or a directory that is not a
/// store (never adopt and scatter files into somebody's folder).
pub(crate) fn check_store_path(dir: &Path) -> Result<()> {
    if dir.file_name().is_none_or(|n| n == ".session") {
        return Err(Error::InvalidArgument(format!(
            "{:?} names no store: give the store a name",
            dir.display().to_string()
        )));
    }
    refuse_symlink(dir)?;
    let meta = match fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("inspecting {}", dir.display()), e)),
    };
    if meta.is_file() {
        let format = sniff_foreign(dir);
        return Err(Error::ForeignFormat {
            path: dir.to_owned(),
            format,
        });
    }
    let ours = [INDEX_FILE, LOCK_FILE, KEY_FILE]
        .iter()
        .any(|name| dir.join(name).exists());
    let empty = fs::read_dir(dir)
        .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?
        .next()
        .is_none();
    if !ours && !empty {
        return Err(Error::InvalidArgument(format!(
            "{} is a non-empty directory that is not a sessiondb store",
            dir.display()
        )));
    }
    Ok(())
}

/// Refuses a symbolic link where a store or one of its files should be: following one would
/// write auth keys into, or change the mode of, whatever it points at.
pub(crate) fn refuse_symlink(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(Error::InvalidArgument(format!(
            "{} is a symbolic link; a store and its files are never reached through one",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// Names the library whose session file `path` is, from its first bytes.
pub(crate) fn sniff_foreign(path: &Path) -> &'static str {
    let mut head = Vec::new();
    if let Ok(f) = fs::File::open(path) {
        let _ = f.take(64 * 1024).read_to_end(&mut head);
    }
    let has = |needle: &str| head.windows(needle.len()).any(|w| w == needle.as_bytes());
    if head.starts_with(b"SQLite format 3\0") {
        if has("dc_home") && has("peer_info") {
            "grammers-session SQLite"
        } else if has("datacenter") && has("channelstate") {
            "Telethon v2 SQLite"
        } else if has("entities") && has("sent_files") {
            "Telethon v1 SQLite"
        } else if has("peers") && has("last_update_on") {
            "Pyrogram SQLite"
        } else {
            "SQLite database (unknown schema)"
        }
    } else if matches!(head.first(), Some(1..=3)) && head.len() >= 6 {
        "layer-client binary"
    } else {
        "unknown file"
    }
}

/// The directory `path` is in (`.` for a bare name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Creates the store directory (0700) if needed, syncing its parent so the entry survives.
pub(crate) fn create_dir(dir: &Path) -> Result<bool> {
    if dir.is_dir() {
        return Ok(false);
    }
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::io::sync_file(
            &fs::File::open(parent)
                .map_err(|e| Error::io(format!("opening {}", parent.display()), e))?,
        )
        .map_err(|e| Error::io(format!("syncing {}", parent.display()), e))?;
    }
    Ok(true)
}

/// Refuses files owned by another user; tightens the directory to 0700 and files to 0600.
pub(crate) fn secure(dir: &Path, writable: bool) -> Result<()> {
    let me = euid();
    check_and_tighten(dir, 0o700, me, writable)?;
    for entry in
        fs::read_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?
    {
        let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        let path = entry.path();
        refuse_symlink(&path)?;
        if path.is_file() {
            check_and_tighten(&path, 0o600, me, writable)?;
        }
    }
    Ok(())
}

fn check_and_tighten(path: &Path, mode: u32, me: u32, writable: bool) -> Result<()> {
    refuse_symlink(path)?;
    let meta = fs::symlink_metadata(path)
        .map_err(|e| Error::io(format!("inspecting {}", path.display()), e))?;
    // Even root refuses: a store another user planted must not receive our auth keys.
    if meta.uid() != me {
        return Err(Error::ForeignOwner {
            path: path.to_owned(),
            owner: meta.uid(),
            me,
        });
    }
    if writable && meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io(format!("tightening {}", path.display()), e))?;
    }
    Ok(())
}

/// Opens (creating 0600 if missing) a file inside the store.
pub(crate) fn open_private(path: &Path, create: bool) -> Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .write(create)
        .create(create)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))
}

/// The refusal to write where something already is (every "never overwrite" says this).
pub(crate) fn already_exists(path: &Path) -> Error {
    Error::InvalidArgument(format!(
        "{} already exists: sessiondb writes a new one and never overwrites",
        path.display()
    ))
}

/// Writes a new file readable only by its owner (0600) and syncs it and its directory.
#[cfg(feature = "formats")]
pub(crate) fn write_private_file(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let context = || format!("writing {}", path.display());
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => already_exists(path),
            _ => Error::io(context(), e),
        })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(context(), e))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(context(), e))?;
    }
    Ok(())
}

/// A log that does not start at LSN 1 needs the index it was checkpointed into: if that
/// is gone, creating a fresh one would hide the loss. Refuse before touching anything.
pub(crate) fn refuse_lost_index(fs: &dyn crate::io::FileSystem, dir: &Path) -> Result<()> {
    let names = fs.list(dir).unwrap_or_default();
    if names.iter().any(|n| n == INDEX_FILE) {
        return Ok(());
    }
    let first = names.iter().filter_map(|n| parse_segment_name(n)).min();
    match first {
        Some(lsn) if lsn > 1 => Err(Error::Corrupt {
            file: dir.join(INDEX_FILE),
            offset: 0,
            reason: format!("the index is missing but the log only starts at LSN {lsn}"),
        }),
        _ => Ok(()),
    }
}

/// Takes the writer's `flock`. A lock that was just released can still be held for a moment
/// by a forked child of this process that has not reached `exec` yet (the child shares the
/// open file description until then), so a refusal is retried for up to 100 ms before it is
/// reported as `Error::Locked`.
pub(crate) fn take_lock(lock: &std::fs::File, dir: &Path) -> Result<()> {
    for attempt in 0..20 {
        match lock.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if attempt < 19 => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(std::fs::TryLockError::WouldBlock) => break,
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io(format!("locking {}", dir.display()), e));
            }
        }
    }
    Err(Error::Locked {
        path: dir.to_owned(),
    })
}

/// File name of the segment whose first record has `first_lsn`.
pub(crate) fn segment_path(dir: &Path, first_lsn: u64) -> PathBuf {
    dir.join(format!("{first_lsn:020}.log"))
}

/// The first LSN encoded in a segment file name, if `name` is one.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // LSNs start at 1, so no segment is named 0.
    digits.parse().ok().filter(|&lsn| lsn > 0)
}
