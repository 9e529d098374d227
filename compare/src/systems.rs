//! The systems compared in this process: sessiondb, rusqlite (Telethon-like schema, WAL,
//! synchronous=FULL), raw redb (one durable commit per write) and the bare append+fdatasync
//! reference loop. Every write each workload makes is durable when acknowledged.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use redb::{ReadableDatabase, TableDefinition};
use rusqlite::{Connection, params};
use sessiondb::{Durability, Peer, PeerKind, Store, UpdateStateChange};

use crate::common::{Outcome, disk_bytes, mix, peer, timed, write_bytes};

const LOOKUPS: u64 = 50_000;
const UPDATES_1: u64 = 2_000;
const WRITERS: u64 = 64;
const PER_WRITER: u64 = 1_000;

/// The operations a system offers the workloads.
trait System: Sync {
    fn ingest(&self, batch: &[u64]);
    fn checkpoint(&self) {}
    fn lookup_id(&self, i: u64) -> bool;
    fn lookup_username(&self, i: u64) -> Option<bool>;
    fn self_user(&self) -> Option<bool>;
    fn update(&self, writer: u64, i: u64);
    /// The store's files, for disk usage.
    fn files(&self) -> &Path;
}

pub fn run(system: &str, workload: &str, dir: &Path, n: u64) -> Option<crate::common::Outcome> {
    let sys: Box<dyn System> = match system {
        "sessiondb" => Box::new(Sessiondb::open(dir, None)),
        // The same store encrypted (default Argon2id parameters, paid once at open).
        "sessiondb-encrypted" => Box::new(Sessiondb::open(
            dir,
            Some(sessiondb::Encryption::new("compare passphrase")),
        )),
        "rusqlite" => Box::new(Sqlite::open(dir)),
        "redb" => Box::new(Redb::open(dir, false)),
        // The index sessiondb builds at a checkpoint (peers, usernames, phones) written by
        // redb alone in one transaction: a floor for any append-log + redb-index design.
        "redb-bulk" if workload == "ingest_checkpoint" => Box::new(Redb::open(dir, true)),
        "append" => return append_loop(workload, dir, n),
        "sessiondb-grammers" => return grammers_adapter(workload, dir, n),
        _ => return None,
    };
    Some(match workload {
        "ingest_durable" | "ingest_checkpoint" => {
            let before = write_bytes();
            let ((), took) = timed(|| {
                ingest_all(sys.as_ref(), n);
                if workload == "ingest_checkpoint" {
                    sys.checkpoint();
                }
            });
            let mut o = Outcome::rate(n, took);
            o.write_bytes_per_peer = Some((write_bytes() - before) as f64 / n as f64);
            o.disk_bytes_per_peer = Some(disk_bytes(sys.files()) as f64 / n as f64);
            o
        }
        "lookup_id" | "lookup_username" | "self_user" => {
            ingest_all(sys.as_ref(), n);
            sys.checkpoint();
            // grammers finds the self user by a table scan: fewer rounds keep it bearable.
            let count = if workload == "self_user" {
                500
            } else {
                // COMPARE_LOOKUPS: more lookups, for profiling the lookup path.
                std::env::var("COMPARE_LOOKUPS")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(LOOKUPS)
            };
            let mut lat = Vec::with_capacity(count as usize);
            for k in 0..count {
                let i = mix(k) % n;
                let t = Instant::now();
                let found = match workload {
                    "lookup_id" => Some(sys.lookup_id(i)),
                    "lookup_username" => sys.lookup_username(i),
                    _ => sys.self_user(),
                };
                lat.push(t.elapsed());
                match found {
                    Some(true) => {}
                    Some(false) => panic!("{system}: {workload} missed {i}"),
                    None => return None,
                }
            }
            Outcome::latencies(lat)
        }
        "update_1" => {
            let mut lat = Vec::new();
            for i in 0..UPDATES_1 {
                let t = Instant::now();
                sys.update(0, i);
                lat.push(t.elapsed());
            }
            Outcome::latencies(lat)
        }
        "update_64" => {
            let ((), took) = timed(|| {
                std::thread::scope(|s| {
                    for w in 0..WRITERS {
                        let sys = sys.as_ref();
                        s.spawn(move || (0..PER_WRITER).for_each(|i| sys.update(w, i)));
                    }
                })
            });
            Outcome::rate(WRITERS * PER_WRITER, took)
        }
        _ => return None,
    })
}

fn ingest_all(sys: &dyn System, n: u64) {
    let ids: Vec<u64> = (0..n).collect();
    for batch in ids.chunks(200) {
        sys.ingest(batch);
    }
}

struct Sessiondb {
    store: Store,
    dir: std::path::PathBuf,
}

impl Sessiondb {
    fn open(dir: &Path, encryption: Option<sessiondb::Encryption>) -> Self {
        let options = sessiondb::Options {
            encryption,
            ..sessiondb::Options::default()
        };
        let store = Store::open_with(dir.join("bot"), options).expect("open sessiondb");
        let mut me = Peer::new(1, PeerKind::User, Some(mix(0) as i64));
        me.is_self = Some(true);
        store
            .default_account()
            .cache_peers_with(&[me], Durability::Durable)
            .expect("self");
        Sessiondb {
            store,
            dir: dir.join("bot.session"),
        }
    }
}

impl System for Sessiondb {
    fn ingest(&self, batch: &[u64]) {
        let peers: Vec<Peer> = batch
            .iter()
            .map(|&i| {
                let (id, hash, name, phone) = peer(i);
                let mut p = Peer::new(id, PeerKind::User, Some(hash));
                p.usernames = vec![name];
                p.phone = Some(phone);
                p
            })
            .collect();
        let acc = self.store.default_account();
        acc.cache_peers_with(&peers, Durability::Durable)
            .expect("ingest");
    }
    fn checkpoint(&self) {
        self.store.checkpoint().expect("checkpoint");
    }
    fn lookup_id(&self, i: u64) -> bool {
        self.store
            .default_account()
            .peer(peer(i).0)
            .expect("lookup")
            .is_some()
    }
    fn lookup_username(&self, i: u64) -> Option<bool> {
        let name = peer(i).2;
        Some(
            self.store
                .default_account()
                .peer_by_username(&name)
                .expect("lookup")
                .is_some(),
        )
    }
    fn self_user(&self) -> Option<bool> {
        Some(
            self.store
                .default_account()
                .self_user()
                .expect("self")
                .is_some(),
        )
    }
    fn update(&self, writer: u64, i: u64) {
        let change = if writer == 0 {
            UpdateStateChange::Primary {
                pts: i as i32,
                date: i as i32,
                seq: 1,
            }
        } else {
            UpdateStateChange::Channel {
                id: writer as i64,
                pts: i as i32,
            }
        };
        self.store
            .default_account()
            .set_update_state(change)
            .expect("update");
    }
    fn files(&self) -> &Path {
        &self.dir
    }
}

/// Telethon's schema (entities with the self-id row 0), indexed on username and phone.
struct Sqlite {
    conn: Mutex<Connection>,
    path: std::path::PathBuf,
}

impl Sqlite {
    fn open(dir: &Path) -> Self {
        let path = dir.join("bot.sqlite");
        let conn = Connection::open(&path).expect("sqlite");
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS entities (id INTEGER PRIMARY KEY, hash INTEGER NOT NULL,
               username TEXT, phone INTEGER, name TEXT, date INTEGER);
             CREATE INDEX IF NOT EXISTS entities_username ON entities(username);
             CREATE INDEX IF NOT EXISTS entities_phone ON entities(phone);
             CREATE TABLE IF NOT EXISTS update_state (id INTEGER PRIMARY KEY, pts INTEGER,
               qts INTEGER, date INTEGER, seq INTEGER);
             INSERT OR REPLACE INTO entities VALUES (0, 1, NULL, NULL, NULL, NULL);",
        )
        .expect("schema");
        Sqlite {
            conn: Mutex::new(conn),
            path,
        }
    }
}

impl System for Sqlite {
    fn ingest(&self, batch: &[u64]) {
        let mut conn = self.conn.lock().expect("lock");
        let tx = conn.transaction().expect("tx");
        {
            let mut st = tx
                .prepare_cached("INSERT OR REPLACE INTO entities VALUES (?1, ?2, ?3, ?4, NULL, 0)")
                .expect("prepare");
            for &i in batch {
                let (id, hash, name, phone) = peer(i);
                st.execute(params![id, hash, name, phone.parse::<i64>().unwrap_or(0)])
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    fn lookup_id(&self, i: u64) -> bool {
        let conn = self.conn.lock().expect("lock");
        let mut st = conn
            .prepare_cached("SELECT hash FROM entities WHERE id = ?1")
            .expect("prepare");
        st.query_row(params![peer(i).0], |r| r.get::<_, i64>(0))
            .is_ok()
    }
    fn lookup_username(&self, i: u64) -> Option<bool> {
        let conn = self.conn.lock().expect("lock");
        let mut st = conn
            .prepare_cached("SELECT id, hash FROM entities WHERE username = ?1")
            .expect("prepare");
        Some(
            st.query_row(params![peer(i).2], |r| r.get::<_, i64>(0))
                .is_ok(),
        )
    }
    fn self_user(&self) -> Option<bool> {
        // Telethon keeps the self id in the hash of row 0, then reads that row.
        let conn = self.conn.lock().expect("lock");
        let mut st = conn
            .prepare_cached("SELECT hash FROM entities WHERE id = 0")
            .expect("prepare");
        let me: i64 = st.query_row([], |r| r.get(0)).ok()?;
        let mut st = conn
            .prepare_cached("SELECT hash FROM entities WHERE id = ?1")
            .expect("prepare");
        Some(st.query_row(params![me], |r| r.get::<_, i64>(0)).is_ok())
    }
    fn update(&self, writer: u64, i: u64) {
        let conn = self.conn.lock().expect("lock");
        let mut st = conn
            .prepare_cached("INSERT OR REPLACE INTO update_state VALUES (?1, ?2, 0, 0, 0)")
            .expect("prepare");
        st.execute(params![writer as i64, i as i64])
            .expect("update");
    }
    fn files(&self) -> &Path {
        self.path.parent().unwrap_or(&self.path)
    }
}

const R_PEERS: TableDefinition<i64, &[u8]> = TableDefinition::new("peers");
const R_NAMES: TableDefinition<&str, i64> = TableDefinition::new("usernames");
const R_PHONES: TableDefinition<&str, i64> = TableDefinition::new("phones");
const R_STATE: TableDefinition<u64, i64> = TableDefinition::new("state");

/// redb with the same rows, one durable commit per write; or (`bulk`) every batch kept
/// until the checkpoint, then written with a phone index too in one transaction.
struct Redb {
    db: redb::Database,
    path: std::path::PathBuf,
    bulk: Option<std::sync::Mutex<Vec<u64>>>,
}

impl Redb {
    fn open(dir: &Path, bulk: bool) -> Self {
        let path = dir.join("bot.redb");
        let db = redb::Builder::new()
            .set_cache_size(64 << 20)
            .create(&path)
            .expect("redb");
        let bulk = bulk.then(std::sync::Mutex::default);
        Redb { db, path, bulk }
    }

    fn insert(&self, batch: &[u64], with_phones: bool) {
        let tx = self.db.begin_write().expect("tx");
        {
            let mut peers = tx.open_table(R_PEERS).expect("table");
            let mut names = tx.open_table(R_NAMES).expect("table");
            let mut phones = tx.open_table(R_PHONES).expect("table");
            for &i in batch {
                let (id, hash, name, phone) = peer(i);
                let mut value = hash.to_le_bytes().to_vec();
                value.extend_from_slice(name.as_bytes());
                value.extend_from_slice(phone.as_bytes());
                peers.insert(id, value.as_slice()).expect("insert");
                names.insert(name.as_str(), id).expect("insert");
                if with_phones {
                    phones.insert(phone.as_str(), id).expect("insert");
                }
            }
        }
        tx.commit().expect("commit");
    }
}

impl System for Redb {
    fn ingest(&self, batch: &[u64]) {
        match &self.bulk {
            Some(kept) => kept.lock().expect("lock").extend_from_slice(batch),
            None => self.insert(batch, false),
        }
    }
    fn checkpoint(&self) {
        if let Some(kept) = &self.bulk {
            let all = std::mem::take(&mut *kept.lock().expect("lock"));
            self.insert(&all, true);
        }
    }
    fn lookup_id(&self, i: u64) -> bool {
        let tx = self.db.begin_read().expect("read");
        let t = tx.open_table(R_PEERS).expect("table");
        t.get(peer(i).0).expect("get").is_some()
    }
    /// Username → id → the peer's row, as the other systems answer (two descents).
    fn lookup_username(&self, i: u64) -> Option<bool> {
        let tx = self.db.begin_read().expect("read");
        let names = tx.open_table(R_NAMES).expect("table");
        let Some(id) = names.get(peer(i).2.as_str()).expect("get") else {
            return Some(false);
        };
        let peers = tx.open_table(R_PEERS).expect("table");
        Some(peers.get(id.value()).expect("get").is_some())
    }
    fn self_user(&self) -> Option<bool> {
        None
    }
    fn update(&self, writer: u64, i: u64) {
        let tx = self.db.begin_write().expect("tx");
        tx.open_table(R_STATE)
            .expect("table")
            .insert(writer, i as i64)
            .expect("insert");
        tx.commit().expect("commit");
    }
    fn files(&self) -> &Path {
        &self.path
    }
}

/// The reference: append 64-byte records to a file and fdatasync.
fn append_loop(workload: &str, dir: &Path, n: u64) -> Option<Outcome> {
    let path = dir.join("append.log");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("open");
    let file = Arc::new(Mutex::new(file));
    let record = [0x5Au8; 64];
    let write = |count: u64| {
        let mut f = file.lock().expect("lock");
        for _ in 0..count {
            f.write_all(&record).expect("write");
        }
        f.sync_data().expect("sync");
    };
    Some(match workload {
        "ingest_durable" | "ingest_checkpoint" => {
            let before = write_bytes();
            let ((), took) = timed(|| (0..n.div_ceil(200)).for_each(|_| write(200)));
            let mut o = Outcome::rate(n, took);
            o.write_bytes_per_peer = Some((write_bytes() - before) as f64 / n as f64);
            o.disk_bytes_per_peer = Some(disk_bytes(&path) as f64 / n as f64);
            o
        }
        "update_1" => {
            let mut lat = Vec::new();
            for _ in 0..UPDATES_1 {
                let t = Instant::now();
                write(1);
                lat.push(t.elapsed());
            }
            Outcome::latencies(lat)
        }
        "update_64" => {
            // The limit group commit aims at: 64 records per sync.
            let ((), took) = timed(|| (0..PER_WRITER).for_each(|_| write(WRITERS)));
            Outcome::rate(WRITERS * PER_WRITER, took)
        }
        _ => return None,
    })
}

/// sessiondb behind grammers' `Session` trait, in one async loop like grammers' own store;
/// peers durable per batch, as `SqliteSession` commits them, except in `ingest_default`
/// (the adapter's default: buffered peers, durable at the next sync).
fn grammers_adapter(workload: &str, dir: &Path, n: u64) -> Option<Outcome> {
    let (workload, peer_durability) = match workload {
        "ingest_default" => ("ingest_durable", Durability::Buffered),
        w => (w, Durability::Durable),
    };
    let options = sessiondb::Options {
        peer_durability,
        ..Default::default()
    };
    let store = Arc::new(Store::open_with(dir.join("bot"), options).expect("open sessiondb"));
    let session =
        sessiondb::GrammersSession::from_store(store.clone(), "default").expect("adapter");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let checkpoint = || {
        store.checkpoint().expect("checkpoint");
    };
    rt.block_on(crate::session_workloads::run(
        Arc::new(session),
        workload,
        &dir.join("bot.session"),
        n,
        checkpoint,
    ))
}
