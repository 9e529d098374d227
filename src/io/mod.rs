//! The I/O seam of the log: a small file-system trait with a real implementation and an
//! in-memory one that keeps a live and a durable image, so tests can cut the power, tear
//! writes, slow down or fail syncs without mocking any of our own logic.

use std::fmt;
use std::io;
use std::path::Path;

/// A file of the log, addressed by offset.
#[allow(clippy::len_without_is_empty)] // a file length, not a collection
pub trait LogFile: Send + Sync {
    /// Current length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Reads exactly `buf.len()` bytes at `offset`.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Writes all of `buf` at `offset`.
    fn write_at(&self, offset: u64, buf: &[u8]) -> io::Result<()>;
    /// Truncates or extends (with zeros) to `len`.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Makes everything written so far durable (fdatasync; `F_FULLFSYNC` on macOS).
    fn sync_data(&self) -> io::Result<()>;
}

/// The file-system operations the log needs.
pub trait FileSystem: Send + Sync + fmt::Debug {
    /// Creates a directory and its parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Names of the entries of a directory.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Creates a new file (0600); fails if it exists.
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn LogFile>>;
    /// Opens an existing file.
    fn open(&self, path: &Path, writable: bool) -> io::Result<Box<dyn LogFile>>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Renames a file over another in the same directory, atomically.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creations, removals, renames) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Swaps two directories of one parent in one step (durable once the parent is synced).
    fn exchange_dirs(&self, a: &Path, b: &Path) -> io::Result<()>;
    /// Renames a directory (durable once its parent is synced).
    fn rename_dir(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a directory and what it holds; a missing one is not an error.
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()>;

    /// A redb backend for the index file at `path` (created if missing and `create`), and
    /// whether it was created; `None` lets the store use the real file.
    fn index_backend(&self, _path: &Path, _create: bool) -> io::Result<Option<IndexBackend>> {
        Ok(None)
    }
}

/// A redb storage backend and whether its file was just created.
pub type IndexBackend = (Box<dyn redb::StorageBackend>, bool);

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

struct RealFile(std::fs::File);

impl LogFile for RealFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.0.read_exact_at(buf, offset)
    }
    fn write_at(&self, offset: u64, buf: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.0.write_all_at(buf, offset)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        sync_file(&self.0)
    }
}

/// fdatasync, or `F_FULLFSYNC` on macOS where fsync does not reach the platter.
pub(crate) fn sync_file(file: &std::fs::File) -> io::Result<()> {
    #[cfg(target_os = "macos")]
    {
        use std::os::unix::io::AsRawFd;
        // SAFETY: fcntl on a descriptor we own, with an integer command and no pointers.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_FULLFSYNC) };
        if rc == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
    #[cfg(not(target_os = "macos"))]
    {
        file.sync_data()
    }
}

impl FileSystem for RealFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)?;
        Ok(Box::new(RealFile(f)))
    }
    fn open(&self, path: &Path, writable: bool) -> io::Result<Box<dyn LogFile>> {
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(writable)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)?;
        Ok(Box::new(RealFile(f)))
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        sync_file(&std::fs::File::open(dir)?)
    }
    #[cfg(not(target_os = "linux"))]
    fn exchange_dirs(&self, _: &Path, _: &Path) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "swapping two directories in one step needs Linux's renameat2(RENAME_EXCHANGE)",
        ))
    }
    #[cfg(target_os = "linux")]
    fn exchange_dirs(&self, a: &Path, b: &Path) -> io::Result<()> {
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes());
        let (ca, cb) = (c(a)?, c(b)?);
        // SAFETY: both pointers are valid NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                ca.as_ptr(),
                libc::AT_FDCWD,
                cb.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        match rc {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    }
    fn rename_dir(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(feature = "testing")]
mod mem;

#[cfg(feature = "testing")]
pub use mem::{IoHook, MEM_PAGE, MemFs};
