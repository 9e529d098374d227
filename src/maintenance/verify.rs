//! `verify`: read everything back and check it, reporting what was checked and found.

use std::collections::BTreeSet;
use std::path::Path;

use std::sync::Arc;

use crate::commit::{Shared, Snapshot};
use crate::error::Result;
use crate::io::FileSystem;
use crate::log::recovery::{ReadLog, RecoveryMode, recover};
use crate::state::view::View;

/// What `Store::verify` checked, and every problem it found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Log segments read.
    pub log_segments: u64,
    /// Log records whose length, CRC, LSN and payload were checked.
    pub log_records: u64,
    /// Bytes of log read.
    pub log_bytes: u64,
    /// Accounts read.
    pub accounts: u64,
    /// DCs decoded.
    pub dcs: u64,
    /// Channel pts decoded.
    pub channels: u64,
    /// Peers decoded and cross-checked with the username and phone indexes.
    pub peers: u64,
    /// Username and phone index entries checked against their peers.
    pub index_entries: u64,
    /// Index values whose checksum (or, encrypted, tag) was checked.
    pub values_checked: u64,
    /// Index values written by format 1, with no checksum: a problem until a writer open
    /// upgrades the store.
    pub values_unchecked: u64,
    /// Whether redb's own integrity check of the index ran (it cannot while another
    /// process writes the store).
    pub index_integrity_checked: bool,
    /// Everything that is wrong; empty means the store is sound.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// Whether no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Everything `Store::verify` checks: the log by the writer open's rules, redb's integrity,
/// every stored value's checksum, and the data read back through one snapshot.
pub(crate) fn store(shared: &Shared, dir: &Path, read_only: bool) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let keys = shared.codec().log_keys();
    let checkpoint_lsn = || shared.checkpoint_lsn();
    let path = shared.index_path();
    // A store no writer holds: its log is what it is, and redb may check the file.
    let unwritten = if read_only {
        crate::index::reader::lock_shared(dir)?
    } else {
        None
    };
    log(
        shared.fs(),
        dir,
        keys,
        (&checkpoint_lsn, unwritten.is_some()),
        &mut report,
    );
    // redb's check needs a file nobody writes meanwhile: this store's checkpoints paused,
    // or (read-only) no writer process.
    let integrity = if read_only {
        // A store whose creation never finished is read through an empty in-memory index.
        let empty = crate::creation::never_finished(shared.fs().as_ref(), dir)?;
        match &unwritten {
            Some(_held) if !empty => {
                Some(crate::index::reader::integrity(shared.fs().as_ref(), path)?)
            }
            _ => None,
        }
    } else {
        let _paused = shared.pause_checkpoints();
        Some(crate::index::reader::integrity(shared.fs().as_ref(), path)?)
    };
    let snapshot = Snapshot::of(shared);
    crate::index::guarded(path, || {
        index(&snapshot.base, integrity, &mut report)?;
        data(&snapshot.view(), &mut report)
    })?;
    Ok(report)
}

/// Judges the log by the writer open's own rules (`RecoveryMode::TornTail`): a store whose
/// log a writer would refuse is never reported sound. A torn tail (damage after which
/// nothing was ever synced) is reported when no writer runs (`stopped`): it is what a
/// power cut leaves, but also what a truncated log looks like, and nothing can tell the
/// two apart; the next writer open cuts it. Beside a writer the tail may be a write in
/// flight. Damage that loses nothing (a sealed segment's padding) is reported too. A
/// checkpoint deleting segments while they are read makes it look again.
pub(crate) fn log(
    fs: &Arc<dyn FileSystem>,
    dir: &Path,
    keys: Option<crate::crypto::LogKeys<'_>>,
    (checkpoint_lsn, stopped): (&dyn Fn() -> u64, bool),
    report: &mut VerifyReport,
) {
    let how = ReadLog {
        mode: RecoveryMode::TornTail,
        read_only: false,
        keys,
    };
    let mut last = None;
    for _ in 0..5 {
        match recover(fs, dir, checkpoint_lsn(), &how, &mut |_, _| Ok(())) {
            Ok(rec) => {
                report.log_segments += rec.segments.len() as u64;
                report.log_records += rec.records;
                report.log_bytes += rec.segment_bytes;
                report.problems.extend(rec.harmless);
                if stopped && rec.bytes_cut > 0 {
                    report.problems.push(format!(
                        "log: it ends in a damaged record ({} bytes a writer open would cut): a \
                         write torn by a power cut, or acknowledged records lost",
                        rec.bytes_cut
                    ));
                }
                return;
            }
            Err(e) => last = Some(e),
        }
    }
    if let Some(e) = last {
        report.problems.push(format!("log: {e}"));
    }
}

/// Checks every stored value of the last checkpoint and redb's own integrity.
pub(crate) fn index(
    base: &crate::index::Base,
    integrity: Option<Option<String>>,
    report: &mut VerifyReport,
) -> Result<()> {
    let scan = base.scan()?;
    report.values_checked += scan.checked;
    report.values_unchecked += scan.unchecked;
    report.problems.extend(scan.problems);
    if scan.unchecked > 0 {
        report.problems.push(format!(
            "index: {} values have no checksum (format 1): open the store for writing once to add them",
            scan.unchecked
        ));
    }
    if let Some(found) = integrity {
        report.index_integrity_checked = true;
        report.problems.extend(found);
    }
    Ok(())
}

/// Reads every account through the view and cross-checks peers and their indexes.
pub(crate) fn data(view: &View<'_>, report: &mut VerifyReport) -> Result<()> {
    for account in view.accounts()? {
        report.accounts += 1;
        report.dcs += view.dcs(&account)?.len() as u64;
        report.channels += view.channels(&account)?.len() as u64;
        view.home_dc(&account)?;
        view.user(&account)?;
        view.update_state(&account)?;
        view.app(&account)?;
        let mut after = None;
        let mut seen = 0u64;
        let mut names = BTreeSet::new();
        loop {
            let page = view.peers(&account, after, 10_000)?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for p in &page {
                seen += 1;
                for name in &p.usernames {
                    report.index_entries += 1;
                    if !names.insert(name.clone()) {
                        report
                            .problems
                            .push(format!("{account}: username {name:?} held by two peers"));
                    }
                    if view.peer_id_by_username(&account, name)? != Some(p.id) {
                        report.problems.push(format!(
                            "{account}: username {name:?} of peer {} is not indexed to it",
                            p.id
                        ));
                    }
                }
                if let Some(phone) = &p.phone {
                    report.index_entries += 1;
                    if view.peer_id_by_phone(&account, phone)? != Some(p.id) {
                        report.problems.push(format!(
                            "{account}: phone of peer {} is not indexed to it",
                            p.id
                        ));
                    }
                }
            }
        }
        report.peers += seen;
        let count = view.peer_count(&account)?;
        if count != seen {
            report.problems.push(format!(
                "{account}: peer count says {count}, {seen} peers found"
            ));
        }
        if let Some(id) = view.self_peer_id(&account)?
            && view.peer(&account, id)?.is_none()
        {
            report
                .problems
                .push(format!("{account}: self peer {id} is missing"));
        }
    }
    Ok(())
}
