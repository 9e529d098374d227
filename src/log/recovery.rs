//! Recovery: replay the records after the checkpoint, and tell a torn tail from corruption.
//!
//! At the first damaged record D (short, bad CRC, wrong LSN, damaged length or header) we
//! look at every valid record after it. Each carries its sync horizon — the highest LSN known
//! durable when it was written. If one of them has a horizon >= D, then D was once synced
//! (and possibly acknowledged): the damage is corruption. Otherwise nothing after D was ever
//! acknowledged, the damage is a torn tail from a power cut, and the log is cut at D.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::frame::{
    HeaderError, LogKeys, OLD_SEGMENT_HEADER_LEN, RECORD_HEADER_LEN, decode_payload, is_zero_tail,
    open_payload, parse_segment_header, read_record, valid_records_after,
};
use super::parse_segment_name;
use crate::error::{Error, Result};
use crate::io::FileSystem;
use crate::state::op::Op;

/// What to do with a damaged log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RecoveryMode {
    /// Cut a torn tail (damage after which nothing was ever synced); any other damage is
    /// `Error::Corrupt`. The default.
    #[default]
    TornTail,
    /// Any damage at all is `Error::Corrupt`.
    Strict,
    /// Keep every valid record before the first damage and cut the rest, even where it had
    /// been synced. Loses data; for getting a damaged store open again.
    Salvage,
}

/// What recovery found.
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    /// The LSN the next record gets.
    pub next_lsn: u64,
    /// Surviving segments, oldest first.
    pub segments: Vec<PathBuf>,
    /// Their total size.
    pub segment_bytes: u64,
    /// Records applied (after the checkpoint).
    pub replayed: u64,
    /// Bytes cut from the tail (0 when the log was clean).
    pub bytes_cut: u64,
    /// Valid records read, at or below the checkpoint too.
    pub records: u64,
    /// Damage that loses nothing: bytes after the last record of a segment whose successor
    /// starts at the next LSN (so the segment was complete). Reported by `verify`.
    pub harmless: Vec<String>,
    /// What a writer must change on disk before it appends: segments to remove, a torn tail
    /// to cut, the last segment to sync. Nothing is changed until every check passed.
    pub fixes: Vec<Fix>,
}

/// One change recovery asks for (see [`Recovered::fixes`]).
#[derive(Debug)]
pub(crate) enum Fix {
    Remove(PathBuf),
    Cut(PathBuf, u64),
    Sync(PathBuf),
    SyncDir,
}

impl Recovered {
    /// Makes the changes recovery decided on, in order.
    pub fn apply_fixes(&self, fs: &Arc<dyn FileSystem>, dir: &Path) -> Result<()> {
        for fix in &self.fixes {
            match fix {
                Fix::Remove(path) => remove(fs, path)?,
                Fix::Cut(path, len) => {
                    let file = fs
                        .open(path, true)
                        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
                    file.set_len(*len)
                        .and_then(|()| file.sync_data())
                        .map_err(|e| Error::io(format!("cutting {}", path.display()), e))?;
                }
                Fix::Sync(path) => {
                    let sync = fs.open(path, true).and_then(|f| f.sync_data());
                    sync.map_err(|e| Error::io(format!("syncing {}", path.display()), e))?;
                }
                Fix::SyncDir => sync_dir(fs, dir)?,
            }
        }
        Ok(())
    }
}

struct Segment {
    path: PathBuf,
    bytes: Vec<u8>,
}

struct Damage {
    index: usize,
    offset: usize,
    expected: u64,
    reason: String,
}

impl Damage {
    /// Damage in segment `index` at `offset`, where the record with LSN `expected` was due.
    fn at(index: usize, offset: usize, expected: u64, reason: impl Into<String>) -> Damage {
        Damage {
            index,
            offset,
            expected,
            reason: reason.into(),
        }
    }
}

/// How to read the log: damage handling, and an encrypted store's keys and lineage.
pub(crate) struct ReadLog<'a> {
    pub mode: RecoveryMode,
    pub read_only: bool,
    pub keys: Option<LogKeys<'a>>,
}

/// Replays the log in `dir` after `checkpoint_lsn`, calling `apply` for each batch in order.
/// It changes nothing itself: a writer applies [`Recovered::fixes`] once the open passed
/// every check (and `verify` judges the log by the same rules without applying them). A
/// read-only recovery stops at the first damage. A sealed record that fails authentication
/// is damage, judged like a CRC failure (torn tail or corruption).
pub(crate) fn recover(
    fs: &Arc<dyn FileSystem>,
    dir: &Path,
    checkpoint_lsn: u64,
    how: &ReadLog<'_>,
    apply: &mut dyn FnMut(u64, Vec<Op>) -> Result<()>,
) -> Result<Recovered> {
    let (mode, read_only) = (how.mode, how.read_only);
    let mut names: Vec<(u64, PathBuf)> = fs
        .list(dir)
        .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?
        .iter()
        .filter_map(|n| parse_segment_name(n).map(|lsn| (lsn, dir.join(n))))
        .collect();
    names.sort();

    // Segments wholly at or below the checkpoint are already in the index.
    let keep_from = (0..names.len())
        .find(|&i| {
            names
                .get(i + 1)
                .is_none_or(|next| next.0 > checkpoint_lsn + 1)
        })
        .unwrap_or(names.len());
    let mut out = Recovered::default();
    if !read_only && keep_from > 0 {
        for (_, path) in &names[..keep_from] {
            out.fixes.push(Fix::Remove(path.clone()));
        }
        out.fixes.push(Fix::SyncDir);
    }

    let mut segments = Vec::new();
    for (_, path) in &names[keep_from..] {
        segments.push(Segment {
            bytes: read_all(fs.as_ref(), path)?,
            path: path.clone(),
        });
    }

    let mut expected = names
        .get(keep_from)
        .map_or(checkpoint_lsn + 1, |(lsn, _)| *lsn);
    if expected > checkpoint_lsn + 1 {
        return Err(Error::Corrupt {
            file: names[keep_from].1.clone(),
            offset: 0,
            reason: format!(
                "log starts at LSN {expected} but the checkpoint covers only up to {checkpoint_lsn}"
            ),
        });
    }

    let mut damage = None;
    // Where each segment's records end (the rest is preallocated zeros).
    let mut ends: Vec<usize> = segments.iter().map(|s| s.bytes.len()).collect();
    'segments: for (index, seg) in segments.iter().enumerate() {
        let header = match parse_segment_header(&seg.bytes) {
            Ok(header) => header,
            Err(HeaderError::Version(v)) => {
                return Err(Error::UnsupportedVersion {
                    what: format!("log segment {}", seg.path.display()),
                    found: v,
                    supported: super::frame::LOG_FORMAT,
                });
            }
            Err(HeaderError::Damaged(why)) => {
                damage = Some(Damage {
                    index,
                    offset: 0,
                    expected,
                    reason: why.into(),
                });
                break;
            }
        };
        if header.first_lsn != expected {
            damage = Some(Damage {
                index,
                offset: 0,
                expected,
                reason: format!(
                    "segment starts at LSN {}, expected {expected}",
                    header.first_lsn
                ),
            });
            break;
        }
        let mut offset = header.len;
        while offset < seg.bytes.len() {
            let record = match read_record(&seg.bytes, offset) {
                Ok(r) if r.lsn == expected => r,
                Ok(r) => {
                    let reason = format!("record has LSN {}, expected {expected}", r.lsn);
                    damage = Some(Damage::at(index, offset, expected, reason));
                    break 'segments;
                }
                Err(_) if is_zero_tail(&seg.bytes, offset) => {
                    ends[index] = offset;
                    break;
                }
                // The next segment starts at the next LSN: this one was complete, and what
                // follows its last record is damaged padding, not a record.
                Err(why) if next_starts_at(&segments, index, expected) => {
                    out.harmless.push(format!(
                        "{} at {offset}: {why} after the segment's last record",
                        seg.path.display()
                    ));
                    ends[index] = offset;
                    break;
                }
                Err(why) => {
                    damage = Some(Damage::at(index, offset, expected, why));
                    break 'segments;
                }
            };
            out.records += 1;
            if record.lsn > checkpoint_lsn {
                let payload = &seg.bytes[record.payload.0..record.payload.1];
                let plain = match open_payload(how.keys, &header, &record, payload) {
                    Ok(plain) => plain,
                    Err(why) => {
                        damage = Some(Damage::at(index, offset, expected, why));
                        break 'segments;
                    }
                };
                // The CRC matched, so these are the bytes we wrote: failing to decode them is
                // not a torn write but a format problem.
                let ops = decode_payload(&plain).map_err(|reason| Error::Corrupt {
                    file: seg.path.clone(),
                    offset: offset as u64,
                    reason,
                })?;
                apply(record.lsn, ops)?;
                out.replayed += 1;
            }
            expected += 1;
            offset = record.end();
        }
    }

    let mut kept = segments.len();
    let mut last_len = None;
    if let Some(d) = damage {
        if read_only {
            // A reader treats the first damage as the end of the log and changes nothing.
            kept = d.index + usize::from(d.offset > 0);
            last_len = (d.offset > 0).then_some(d.offset);
        } else {
            (kept, last_len) = handle_damage(&segments, &d, mode, &mut out)?;
        }
    }
    out.next_lsn = expected.max(checkpoint_lsn.saturating_add(1));
    // A killed process may have left an unsynced tail in the page cache; we replayed it, and
    // the records we write next will claim everything before them is synced: make it so.
    if !read_only && let Some(last) = segments[..kept].last() {
        out.fixes.push(Fix::Sync(last.path.clone()));
    }
    for (i, seg) in segments[..kept].iter().enumerate() {
        out.segments.push(seg.path.clone());
        let len = match last_len {
            Some(len) if i + 1 == kept => len,
            _ => ends[i],
        };
        out.segment_bytes += len as u64;
    }
    Ok(out)
}

/// Whether the segment after `index` has a sound header starting at LSN `expected`.
fn next_starts_at(segments: &[Segment], index: usize, expected: u64) -> bool {
    segments.get(index + 1).is_some_and(|next| {
        parse_segment_header(&next.bytes).is_ok_and(|h| h.first_lsn == expected)
    })
}

/// Decides torn tail or corruption; plans the cut when allowed. Returns how many segments
/// are kept and, if the last kept one is cut, its new length.
fn handle_damage(
    segments: &[Segment],
    d: &Damage,
    mode: RecoveryMode,
    out: &mut Recovered,
) -> Result<(usize, Option<usize>)> {
    let seg = &segments[d.index];
    // Any record after the damage has an LSN below `after` + (bytes left / smallest record):
    // one bound over everything that follows, not per segment.
    let after = d.expected.saturating_sub(1);
    let left = seg.bytes.len() - d.offset
        + segments[d.index + 1..]
            .iter()
            .map(|s| s.bytes.len())
            .sum::<usize>();
    let max_lsn = after.saturating_add((left / RECORD_HEADER_LEN) as u64 + 1);
    let mut later = valid_records_after(&seg.bytes, d.offset + 1, after, max_lsn);
    for s in &segments[d.index + 1..] {
        later.extend(valid_records_after(
            &s.bytes,
            OLD_SEGMENT_HEADER_LEN,
            after,
            max_lsn,
        ));
    }
    let once_synced = later.iter().any(|r| r.horizon >= d.expected);
    let corrupt = match mode {
        RecoveryMode::Strict => true,
        RecoveryMode::TornTail => once_synced,
        RecoveryMode::Salvage => false,
    };
    if corrupt {
        return Err(Error::Corrupt {
            file: seg.path.clone(),
            offset: d.offset as u64,
            reason: if once_synced {
                format!(
                    "{} (records after it were written once LSN {} was synced)",
                    d.reason, d.expected
                )
            } else {
                d.reason.clone()
            },
        });
    }
    tracing::warn!(
        file = %seg.path.display(),
        offset = d.offset,
        reason = %d.reason,
        "cutting torn log tail"
    );
    let mut kept = d.index + 1;
    let mut last_len = Some(d.offset);
    if d.offset == 0 {
        out.fixes.push(Fix::Remove(seg.path.clone()));
        out.bytes_cut += seg.bytes.len() as u64;
        kept = d.index;
        last_len = None;
    } else {
        out.fixes.push(Fix::Cut(seg.path.clone(), d.offset as u64));
        out.bytes_cut += (seg.bytes.len() - d.offset) as u64;
    }
    for s in &segments[d.index + 1..] {
        out.fixes.push(Fix::Remove(s.path.clone()));
        out.bytes_cut += s.bytes.len() as u64;
    }
    out.fixes.push(Fix::SyncDir);
    Ok((kept, last_len))
}

pub(crate) fn read_all(fs: &dyn FileSystem, path: &Path) -> Result<Vec<u8>> {
    let ctx = || format!("reading {}", path.display());
    let file = fs.open(path, false).map_err(|e| Error::io(ctx(), e))?;
    let len = file.len().map_err(|e| Error::io(ctx(), e))?;
    let len = usize::try_from(len).map_err(|_| Error::Corrupt {
        file: path.to_owned(),
        offset: 0,
        reason: "segment larger than memory".into(),
    })?;
    let mut bytes = vec![0u8; len];
    file.read_at(0, &mut bytes)
        .map_err(|e| Error::io(ctx(), e))?;
    Ok(bytes)
}

fn remove(fs: &Arc<dyn FileSystem>, path: &Path) -> Result<()> {
    fs.remove(path)
        .map_err(|e| Error::io(format!("removing {}", path.display()), e))
}

fn sync_dir(fs: &Arc<dyn FileSystem>, dir: &Path) -> Result<()> {
    fs.sync_dir(dir)
        .map_err(|e| Error::io(format!("syncing {}", dir.display()), e))
}
