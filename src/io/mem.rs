//! The in-memory file system of the tests: a live and a durable image of every file (and
//! of the index, through a redb backend), power cuts, torn pages, failing or held syncs.

use crate::locks::Unpoisoned;
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{FileSystem, IndexBackend, LogFile};

/// A hook run before every sync (or write) of [`MemFs`]: it may block (a gate) or fail.
pub type IoHook = Arc<dyn Fn(&Path) -> io::Result<()> + Send + Sync>;

/// Page size used to model torn writes.
pub const MEM_PAGE: usize = 4096;

#[derive(Default)]
struct MemData {
    live: Vec<u8>,
    durable: Vec<u8>,
}

type Node = Arc<Mutex<MemData>>;

#[derive(Default)]
struct MemState {
    live_names: BTreeMap<PathBuf, Node>,
    durable_names: BTreeMap<PathBuf, Node>,
    /// Directory renames, exchanges and removals not yet durable: applied to the durable
    /// names when their parent is synced.
    dir_ops: Vec<DirOp>,
    syncs: u64,
    sync_hook: Option<IoHook>,
    write_hook: Option<IoHook>,
}

/// A renamed, exchanged or removed directory: the files it moved (by identity, as they were
/// when it happened), made durable when the parent directory is synced. Directories hold
/// files only.
struct DirOp {
    parent: PathBuf,
    /// (old path, new path or `None` when removed, the file).
    moves: Vec<(PathBuf, Option<PathBuf>, Node)>,
}

impl DirOp {
    /// The files of `names` in `dir`, to go to `to` (`None`: removed).
    fn moves(
        names: &BTreeMap<PathBuf, Node>,
        dir: &Path,
        to: Option<&Path>,
    ) -> Vec<(PathBuf, Option<PathBuf>, Node)> {
        names
            .iter()
            .filter(|(p, _)| p.parent() == Some(dir))
            .filter_map(|(p, node)| {
                let new = match to {
                    Some(to) => Some(to.join(p.file_name()?)),
                    None => None,
                };
                Some((p.clone(), new, node.clone()))
            })
            .collect()
    }

    /// Applies the moves to a name map: only the files still there as they were.
    fn apply(&self, names: &mut BTreeMap<PathBuf, Node>) {
        let mut moved = Vec::new();
        for (from, to, node) in &self.moves {
            if names.get(from).is_some_and(|n| Arc::ptr_eq(n, node)) {
                names.remove(from);
                moved.extend(to.clone().map(|to| (to, node.clone())));
            }
        }
        names.extend(moved);
    }
}

/// An in-memory file system with a live and a durable image.
///
/// A write reaches the durable image only when its file is synced; a created or removed file's
/// directory entry only when its directory is synced; a renamed, exchanged or removed
/// directory only when its parent is synced. Directories hold files only. [`MemFs::power_cut`] returns the image a
/// machine would boot with.
#[derive(Clone, Default)]
pub struct MemFs {
    state: Arc<Mutex<MemState>>,
}

impl fmt::Debug for MemFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MemFs")
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding this lock leaves plain bytes behind: still usable for tests.
    m.lock().unpoisoned()
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{}", path.display()))
}

impl MemFs {
    /// An empty file system.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of file syncs so far.
    pub fn sync_count(&self) -> u64 {
        lock(&self.state).syncs
    }

    /// Runs `hook` before every file sync; its error becomes the sync's error.
    pub fn set_sync_hook(&self, hook: Option<IoHook>) {
        lock(&self.state).sync_hook = hook;
    }

    /// Runs `hook` before every write; its error becomes the write's error.
    pub fn set_write_hook(&self, hook: Option<IoHook>) {
        lock(&self.state).write_hook = hook;
    }

    /// The bytes of a live file, if it exists.
    pub fn read_live(&self, path: &Path) -> Option<Vec<u8>> {
        let st = lock(&self.state);
        st.live_names.get(path).map(|n| lock(n).live.clone())
    }

    /// Replaces a live file's bytes as if they had been written and synced (for damage tests).
    pub fn overwrite(&self, path: &Path, bytes: Vec<u8>) -> io::Result<()> {
        let st = lock(&self.state);
        let node = st.live_names.get(path).ok_or_else(|| not_found(path))?;
        let mut d = lock(node);
        d.live = bytes.clone();
        d.durable = bytes;
        Ok(())
    }

    /// The image a killed process leaves: every write is still there (the page cache
    /// survives a SIGKILL), and only what was synced is durable.
    pub fn kill(&self) -> MemFs {
        let st = lock(&self.state);
        let mut out = MemState::default();
        let mut copies: Vec<(Node, Node)> = Vec::new();
        let mut copy = |node: &Node| -> Node {
            if let Some((_, c)) = copies.iter().find(|(n, _)| Arc::ptr_eq(n, node)) {
                return c.clone();
            }
            let d = lock(node);
            let c = Arc::new(Mutex::new(MemData {
                live: d.live.clone(),
                durable: d.durable.clone(),
            }));
            copies.push((node.clone(), c.clone()));
            c
        };
        for (path, node) in &st.live_names {
            out.live_names.insert(path.clone(), copy(node));
        }
        for (path, node) in &st.durable_names {
            out.durable_names.insert(path.clone(), copy(node));
        }
        MemFs {
            state: Arc::new(Mutex::new(out)),
        }
    }

    /// The image after a power cut. Synced data and synced directory entries survive; of the
    /// unsynced pages of each file, those for which `keep(path, page_index)` is true survive
    /// too (a torn write keeps some pages and loses others). Gaps read as zeros.
    pub fn power_cut(&self, keep: &mut dyn FnMut(&Path, usize) -> bool) -> MemFs {
        let st = lock(&self.state);
        let mut out = MemState::default();
        for (path, node) in &st.durable_names {
            let d = lock(node);
            let mut image = d.durable.clone();
            let pages = d.live.len().div_ceil(MEM_PAGE);
            for page in 0..pages {
                let start = page * MEM_PAGE;
                let end = (start + MEM_PAGE).min(d.live.len());
                let live = &d.live[start..end];
                let same = d.durable.get(start..end).is_some_and(|dur| dur == live);
                if same || !keep(path, page) {
                    continue;
                }
                if image.len() < end {
                    image.resize(end, 0);
                }
                image[start..end].copy_from_slice(live);
            }
            let node = Arc::new(Mutex::new(MemData {
                live: image.clone(),
                durable: image,
            }));
            out.live_names.insert(path.clone(), node.clone());
            out.durable_names.insert(path.clone(), node);
        }
        MemFs {
            state: Arc::new(Mutex::new(out)),
        }
    }

    /// Moves (or removes, `None`) the files of each directory at once.
    fn dir_op(&self, dir: &Path, moves: &[(&Path, Option<&Path>)]) -> io::Result<()> {
        let mut st = lock(&self.state);
        let moves = moves
            .iter()
            .flat_map(|(from, to)| DirOp::moves(&st.live_names, from, *to))
            .collect();
        let op = DirOp {
            parent: dir.parent().unwrap_or(Path::new("")).to_owned(),
            moves,
        };
        op.apply(&mut st.live_names);
        st.dir_ops.push(op);
        Ok(())
    }

    fn node(&self, path: &Path) -> io::Result<(Node, Option<IoHook>, Option<IoHook>)> {
        let st = lock(&self.state);
        let node = st.live_names.get(path).ok_or_else(|| not_found(path))?;
        Ok((node.clone(), st.sync_hook.clone(), st.write_hook.clone()))
    }
}

struct MemHandle {
    fs: MemFs,
    path: PathBuf,
    node: Node,
}

impl LogFile for MemHandle {
    fn len(&self) -> io::Result<u64> {
        Ok(lock(&self.node).live.len() as u64)
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let d = lock(&self.node);
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let src = d
            .live
            .get(start..start.saturating_add(buf.len()))
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn write_at(&self, offset: u64, buf: &[u8]) -> io::Result<()> {
        let hook = lock(&self.fs.state).write_hook.clone();
        if let Some(h) = hook {
            h(&self.path)?;
        }
        let mut d = lock(&self.node);
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::InvalidInput)?;
        let end = start + buf.len();
        if d.live.len() < end {
            d.live.resize(end, 0);
        }
        d.live[start..end].copy_from_slice(buf);
        Ok(())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        let len = usize::try_from(len).map_err(|_| io::ErrorKind::InvalidInput)?;
        lock(&self.node).live.resize(len, 0);
        Ok(())
    }
    fn sync_data(&self) -> io::Result<()> {
        let hook = {
            let mut st = lock(&self.fs.state);
            st.syncs += 1;
            st.sync_hook.clone()
        };
        if let Some(h) = hook {
            h(&self.path)?;
        }
        // Under the state lock, like `power_cut`: an image is one instant, never half of
        // one file's sync and half of another's.
        let _state = lock(&self.fs.state);
        let mut d = lock(&self.node);
        d.durable = d.live.clone();
        Ok(())
    }
}

impl FileSystem for MemFs {
    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let st = lock(&self.state);
        Ok(st
            .live_names
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect())
    }
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        let mut st = lock(&self.state);
        if st.live_names.contains_key(path) {
            return Err(io::ErrorKind::AlreadyExists.into());
        }
        let node = Node::default();
        st.live_names.insert(path.to_owned(), node.clone());
        Ok(Box::new(MemHandle {
            fs: self.clone(),
            path: path.to_owned(),
            node,
        }))
    }
    fn open(&self, path: &Path, _writable: bool) -> io::Result<Box<dyn LogFile>> {
        let (node, _, _) = self.node(path)?;
        Ok(Box::new(MemHandle {
            fs: self.clone(),
            path: path.to_owned(),
            node,
        }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = lock(&self.state);
        let node = st.live_names.remove(from).ok_or_else(|| not_found(from))?;
        st.live_names.insert(to.to_owned(), node);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut st = lock(&self.state);
        st.live_names
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| not_found(path))
    }
    fn index_backend(&self, path: &Path, create: bool) -> io::Result<Option<IndexBackend>> {
        let exists = lock(&self.state).live_names.contains_key(path);
        if !exists && create {
            self.create_new(path)?;
        }
        let (node, _, _) = self.node(path)?;
        let handle = MemHandle {
            fs: self.clone(),
            path: path.to_owned(),
            node,
        };
        let backend = MemBackend(MemHandleInner(handle));
        Ok(Some((Box::new(backend), !exists)))
    }

    fn exchange_dirs(&self, a: &Path, b: &Path) -> io::Result<()> {
        self.dir_op(a, &[(a, Some(b)), (b, Some(a))])
    }
    fn rename_dir(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.dir_op(from, &[(from, Some(to))])
    }
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.dir_op(dir, &[(dir, None)])
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut st = lock(&self.state);
        let ops = std::mem::take(&mut st.dir_ops);
        let (now, later): (Vec<DirOp>, Vec<DirOp>) =
            ops.into_iter().partition(|op| op.parent == dir);
        st.dir_ops = later;
        for op in &now {
            op.apply(&mut st.durable_names);
        }
        let in_dir = |p: &PathBuf| p.parent() == Some(dir);
        st.durable_names.retain(|p, _| !in_dir(p));
        let live: Vec<(PathBuf, Node)> = st
            .live_names
            .iter()
            .filter(|(p, _)| in_dir(p))
            .map(|(p, n)| (p.clone(), n.clone()))
            .collect();
        st.durable_names.extend(live);
        Ok(())
    }
}

/// The index file of a [`MemFs`], as a redb backend with the same live/durable images (and
/// hooks) as the log's files. Locks always succeed: one process uses a `MemFs`.
#[derive(Debug)]
struct MemBackend(MemHandleInner);

struct MemHandleInner(MemHandle);

impl fmt::Debug for MemHandleInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MemBackend({})", self.0.path.display())
    }
}

impl redb::StorageBackend for MemBackend {
    fn len(&self) -> io::Result<u64> {
        self.0.0.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.0.0.read_at(offset, out)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.0.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.0.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.0.0.write_at(offset, data)
    }
    fn try_lock_range(
        &self,
        _start: std::ops::Bound<u64>,
        _end: std::ops::Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        Ok(true)
    }
    fn try_lock_shared_range(
        &self,
        _start: std::ops::Bound<u64>,
        _end: std::ops::Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        Ok(true)
    }
    fn lock_range(
        &self,
        _start: std::ops::Bound<u64>,
        _end: std::ops::Bound<u64>,
    ) -> Result<(), redb::BackendError> {
        Ok(())
    }
    fn lock_shared_range(
        &self,
        _start: std::ops::Bound<u64>,
        _end: std::ops::Bound<u64>,
    ) -> Result<(), redb::BackendError> {
        Ok(())
    }
    fn unlock_range(
        &self,
        _start: std::ops::Bound<u64>,
        _end: std::ops::Bound<u64>,
    ) -> Result<(), redb::BackendError> {
        Ok(())
    }
    fn query_lock_range(
        &self,
        _start: std::ops::Bound<u64>,
        _end: std::ops::Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        Ok(false)
    }
}
