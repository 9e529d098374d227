//! `verify`: read everything back and check it, reporting what was checked and found.

use std::collections::BTreeSet;
use std::path::Path;

use std::sync::Arc;

use crate::error::Result;
use crate::io::FileSystem;
use crate::log::recovery::{ReadLog, RecoveryMode, recover};
use crate::view::View;

/// What [`Store::verify`](crate::Store::verify) checked, and every problem it found.
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
    /// Everything that is wrong; empty means the store is sound.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// Whether no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Judges the log by the writer open's own rules (`RecoveryMode::TornTail`): a store whose
/// log a writer would refuse is never reported sound. A torn tail (nothing after it was
/// ever synced) is not a problem: the next writer cuts it; damage that loses nothing (a
/// sealed segment's padding) is. Runs beside a writer: a checkpoint deleting segments
/// while they are read makes it look again, with the new checkpoint LSN.
pub(crate) fn log(
    fs: &Arc<dyn FileSystem>,
    dir: &Path,
    keys: Option<&crate::crypto::Keys>,
    checkpoint_lsn: &dyn Fn() -> u64,
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
                return;
            }
            Err(e) => last = Some(e),
        }
    }
    if let Some(e) = last {
        report.problems.push(format!("log: {e}"));
    }
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
