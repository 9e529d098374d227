//! `verify`: read everything back and check it, reporting what was checked and found.

use std::collections::BTreeSet;
use std::path::Path;

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::io::FileSystem;
use crate::log::frame::{
    SEGMENT_HEADER_LEN, decode_payload, is_zero_tail, open_payload, parse_segment_header,
    read_record,
};
use crate::log::parse_segment_name;
use crate::log::recovery::read_all;
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

/// Checks every log segment: header, then each record's framing, CRC, LSN and payload. The
/// last segment may end in a record being written right now: that is not a problem.
pub(crate) fn log(
    fs: &Arc<dyn FileSystem>,
    dir: &Path,
    keys: Option<&crate::crypto::Keys>,
    report: &mut VerifyReport,
) {
    let mut names: Vec<(u64, String)> = fs
        .list(dir)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|n| parse_segment_name(&n).map(|l| (l, n)))
        .collect();
    names.sort();
    let count = names.len();
    let mut next: Option<u64> = None;
    for (i, (first, name)) in names.into_iter().enumerate() {
        let path = dir.join(&name);
        let bytes = match read_all(fs.as_ref(), &path) {
            Ok(b) => b,
            // A checkpoint deleted it since the listing: it was wholly checkpointed.
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                next = None;
                continue;
            }
            Err(e) => {
                report
                    .problems
                    .push(format!("{}: cannot read: {e}", path.display()));
                continue;
            }
        };
        report.log_segments += 1;
        if let Some(want) = next.filter(|&want| want != first) {
            report.problems.push(format!(
                "{}: starts at LSN {first}, the segment before ended at {}",
                path.display(),
                want - 1
            ));
        }
        match parse_segment_header(&bytes) {
            Ok(lsn) if lsn == first => {}
            Ok(lsn) => report
                .problems
                .push(format!("{}: header says LSN {lsn}", path.display())),
            Err(e) => {
                report.problems.push(format!("{}: {e:?}", path.display()));
                next = None;
                continue;
            }
        }
        let mut offset = SEGMENT_HEADER_LEN;
        let mut expected = first;
        while offset < bytes.len() {
            match read_record(&bytes, offset) {
                Ok(r) if r.lsn == expected => {
                    let payload = &bytes[r.payload.0..r.payload.1];
                    let decoded = open_payload(keys, r.lsn, payload)
                        .map_err(String::from)
                        .and_then(|plain| decode_payload(&plain).map(drop));
                    if let Err(e) = decoded {
                        report
                            .problems
                            .push(format!("{} at {offset}: {e}", path.display()));
                    }
                    report.log_records += 1;
                    expected += 1;
                    offset = r.end();
                }
                Ok(r) => {
                    report.problems.push(format!(
                        "{} at {offset}: LSN {} where {expected} was expected",
                        path.display(),
                        r.lsn
                    ));
                    break;
                }
                // The preallocated, unused end of the segment.
                Err(_) if is_zero_tail(&bytes, offset) => break,
                Err(why) => {
                    if i + 1 != count {
                        report
                            .problems
                            .push(format!("{} at {offset}: {why}", path.display()));
                    }
                    break;
                }
            }
        }
        report.log_bytes += offset.min(bytes.len()) as u64;
        next = Some(expected);
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
