//! layer-client binary sessions (`PersistedSession::to_bytes` in layer-client 0.5
//! `src/session.rs`), little-endian:
//!
//! ```text
//! u8 version (3; 2 has no DC flags byte)   i32 home DC   u8 n_dcs
//! per DC: i32 id, u8 has_key, [256] key if has_key == 1, i64 salt, i32 time offset,
//!         u8 len, address text ("ip:port", "[ip6]:port", or "ip6:port" from getConfig),
//!         u8 flags (v3: 1 IPv6, 2 media-only, 4 TCPO-only, 8 CDN, 16 static)
//! i32 pts, i32 qts, i32 date, i32 seq
//! u16 n_channels × {i64 bare channel id, i32 pts}
//! u16 n_peers × {i64 bare id, i64 access hash, u8 is_channel (0 user, else channel)}
//! ```
//!
//! layer-client writes `len() as u16` but every entry, so past 65,535 channels or peers the
//! counts wrap; the decoder recovers the true counts from the file length.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use super::le_reader::Reader;
use super::portable::{Format, Portable, bad};
use crate::error::Result;
use crate::model::{AUTH_KEY_LEN, AuthKey, DataCenter, Peer, PeerKind, UpdateState};

const VERSION: u8 = 3;
const CHANNEL_ENTRY: usize = 8 + 4;
const PEER_ENTRY: usize = 8 + 8 + 1;
const WRAP: usize = 1 << 16;
const CHANNEL_MARK: i64 = 1_000_000_000_000;

// DcFlags bits of layer-client.
const IPV6: u8 = 1;
const MEDIA_ONLY: u8 = 2;
const TCPO_ONLY: u8 = 4;
const CDN: u8 = 8;
const STATIC: u8 = 16;
/// Flags that describe a DC's main address and so survive an import.
const KEPT_FLAGS: u8 = TCPO_ONLY | STATIC;

/// Whether the first bytes look like a layer-client session: version, a small home DC
/// and, when present, a first DC entry with a small id and a 0/1 key marker.
pub(crate) fn looks_like(head: &[u8]) -> bool {
    let mut r = Reader::new(head, Format::Layer);
    let (Ok(version), Ok(home), Ok(n_dcs)) = (r.u8(), r.i32(), r.u8()) else {
        return false;
    };
    if !(version == 2 || version == 3) || !(0..=0xffff).contains(&home) {
        return false;
    }
    if n_dcs == 0 {
        return true;
    }
    match (r.i32(), r.u8()) {
        (Ok(id), Ok(has_key)) => (1..=0xffff).contains(&id) && has_key <= 1,
        _ => true,
    }
}

/// One DC entry as stored.
struct Entry {
    id: i32,
    key: Option<AuthKey>,
    salt: i64,
    time_offset: i32,
    addr: Vec<u8>,
    flags: u8,
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Portable> {
    let mut r = Reader::new(bytes, Format::Layer);
    let version = r.u8()?;
    if version != 2 && version != 3 {
        return Err(bad(
            Format::Layer,
            format!("format version {version}; sessiondb reads layer-client versions 2 and 3"),
        ));
    }
    let home = r.i32()?;
    let n_dcs = r.u8()?;
    let mut entries = Vec::with_capacity(usize::from(n_dcs));
    for _ in 0..n_dcs {
        let id = r.i32()?;
        let key = match r.u8()? {
            0 => None,
            1 => Some(AuthKey::from_slice(r.take(AUTH_KEY_LEN)?).map_err(|_| r.err())?),
            v => {
                return Err(bad(
                    Format::Layer,
                    format!("DC {id}: key marker {v}, not 0 or 1"),
                ));
            }
        };
        let salt = r.i64()?;
        let time_offset = r.i32()?;
        let len = usize::from(r.u8()?);
        let addr = r.take(len)?.to_vec();
        let flags = if version >= 3 { r.u8()? } else { 0 };
        entries.push(Entry {
            id,
            key,
            salt,
            time_offset,
            addr,
            flags,
        });
    }
    let state = UpdateState {
        pts: r.i32()?,
        qts: r.i32()?,
        date: r.i32()?,
        seq: r.i32()?,
    };

    let mut p = Portable::default();
    p.session.home_dc = (home != 0).then_some(home);
    p.session.update_state = (state != UpdateState::default()).then_some(state);
    merge_dcs(&mut p, entries);

    let (n_channels, n_peers) = recover_counts(bytes, r.pos)?;
    let stored_channels = usize::from(r.u16()?);
    for _ in 0..n_channels {
        let (id, pts) = (r.i64()?, r.i32()?);
        // layer's loader inserts into a map in file order: the last pts wins.
        p.session.channels.insert(id, pts);
    }
    let stored_peers = usize::from(r.u16()?);
    read_peers(&mut r, n_peers, &mut p)?;
    if r.pos != bytes.len() {
        return Err(r.err());
    }
    for (what, stored, real) in [
        ("channel", stored_channels, n_channels),
        ("peer", stored_peers, n_peers),
    ] {
        if real != stored {
            p.notes.push(format!(
                "the file's {what} count says {stored} but it holds {real} {what} entries \
                 (layer-client wraps this 16-bit count): recovered {} from the file length",
                real - stored
            ));
        }
    }
    Ok(p)
}

/// The real channel and peer counts: the stored u16 counts plus whole multiples of 65,536
/// that make the fixed-size entries fill the rest of the file exactly.
fn recover_counts(bytes: &[u8], at: usize) -> Result<(usize, usize)> {
    let u16_at = |i: usize| -> Option<usize> {
        Some(usize::from(u16::from_le_bytes(
            bytes.get(i..i + 2)?.try_into().ok()?,
        )))
    };
    let short = || {
        bad(
            Format::Layer,
            format!(
                "{} bytes do not hold the channel and peer entries the counts announce \
                 (truncated or damaged)",
                bytes.len()
            ),
        )
    };
    let mut channels = u16_at(at).ok_or_else(short)?;
    loop {
        let peers_at = channels
            .checked_mul(CHANNEL_ENTRY)
            .and_then(|n| n.checked_add(at + 2))
            .filter(|&i| i + 2 <= bytes.len())
            .ok_or_else(short)?;
        let stored_peers = u16_at(peers_at).ok_or_else(short)?;
        let rest = bytes.len() - peers_at - 2;
        if rest.is_multiple_of(PEER_ENTRY) && (rest / PEER_ENTRY) % WRAP == stored_peers {
            return Ok((channels, rest / PEER_ENTRY));
        }
        channels += WRAP;
    }
}

fn read_peers(r: &mut Reader<'_>, n: usize, p: &mut Portable) -> Result<()> {
    let (mut invalid, mut duplicate) = (0usize, 0usize);
    let mut seen = std::collections::HashSet::with_capacity(n);
    p.peers.reserve(n);
    for _ in 0..n {
        let (id, hash, is_channel) = (r.i64()?, r.i64()?, r.u8()? != 0);
        let marked = match is_channel {
            false if id > 0 => Some((id, PeerKind::UserUnknown)),
            true if id > 0 && id < CHANNEL_MARK => {
                Some((-(CHANNEL_MARK + id), PeerKind::ChannelUnknown))
            }
            _ => None,
        };
        let Some((marked, kind)) = marked else {
            invalid += 1;
            continue;
        };
        // layer's loader keeps the first hash it sees for an id.
        if !seen.insert(marked) {
            duplicate += 1;
            continue;
        }
        p.peers.push(Peer::new(marked, kind, Some(hash)));
    }
    if invalid > 0 {
        p.notes
            .push(format!("skipped {invalid} peers with ids out of range"));
    }
    if duplicate > 0 {
        p.notes.push(format!(
            "skipped {duplicate} repeated peers (kept the first of each)"
        ));
    }
    Ok(())
}

/// Folds layer's entries (one per address, several per DC id) into one `DataCenter` per id.
fn merge_dcs(p: &mut Portable, entries: Vec<Entry>) {
    let (mut media, mut bad_addr, mut conflicts) = (0usize, 0usize, 0usize);
    // Main entries first: they carry the addresses; media/CDN ones can only lend a key.
    let (main, extra): (Vec<Entry>, Vec<Entry>) = entries
        .into_iter()
        .partition(|e| e.flags & (MEDIA_ONLY | CDN) == 0);
    for e in main {
        let dc = dc_mut(&mut p.session.dcs, e.id, e.flags & KEPT_FLAGS);
        match parse_addr(&e.addr) {
            Some(SocketAddr::V4(a)) if dc.ipv4.is_none() => dc.ipv4 = Some(a),
            Some(SocketAddr::V6(a)) if dc.ipv6.is_none() => dc.ipv6 = Some(a),
            Some(_) => conflicts += 1,
            None if e.addr.is_empty() => {}
            None => bad_addr += 1,
        }
        conflicts += usize::from(take_key(dc, e));
    }
    for e in extra {
        media += 1;
        let dc = dc_mut(&mut p.session.dcs, e.id, 0);
        conflicts += usize::from(take_key(dc, e));
    }
    if media > 0 {
        p.notes.push(format!(
            "skipped the addresses of {media} media-only/CDN DC entries (sessiondb keeps one \
             address per family per DC; layer-client fetches them again from help.getConfig)"
        ));
    }
    if bad_addr > 0 {
        p.notes.push(format!(
            "skipped {bad_addr} DC addresses that are not ip:port"
        ));
    }
    if conflicts > 0 {
        p.notes.push(format!(
            "{conflicts} DC entries repeated an address family or key of their DC: kept the first"
        ));
    }
}

fn dc_mut(dcs: &mut Vec<DataCenter>, id: i32, flags: u8) -> &mut DataCenter {
    let i = match dcs.iter().position(|d| d.id == id) {
        Some(i) => i,
        None => {
            let mut dc = DataCenter::new(id);
            dc.flags = u32::from(flags);
            dcs.push(dc);
            dcs.len() - 1
        }
    };
    &mut dcs[i]
}

/// Gives the DC this entry's key (with its salt and clock offset) unless it has one;
/// returns whether a different key was dropped.
fn take_key(dc: &mut DataCenter, e: Entry) -> bool {
    match (&dc.auth_key, e.key) {
        (None, Some(k)) => {
            dc.auth_key = Some(k);
            dc.server_salt = e.salt;
            dc.time_offset = e.time_offset;
            false
        }
        (Some(old), Some(k)) => *old != k,
        (None, None) => {
            if dc.server_salt == 0 && dc.time_offset == 0 {
                dc.server_salt = e.salt;
                dc.time_offset = e.time_offset;
            }
            false
        }
        (Some(_), None) => false,
    }
}

/// `ip:port`, `[ip6]:port`, or the unbracketed `ip6:port` that getConfig entries get.
fn parse_addr(raw: &[u8]) -> Option<SocketAddr> {
    let text = std::str::from_utf8(raw).ok()?;
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Some(a);
    }
    let (ip, port) = text.rsplit_once(':')?;
    let ip: Ipv6Addr = ip.parse().ok()?;
    Some(SocketAddr::new(IpAddr::V6(ip), port.parse().ok()?))
}

pub(crate) fn encode(p: &Portable) -> Result<Vec<u8>> {
    let s = &p.session;
    let n_dcs = u8::try_from(s.dcs.len()).map_err(|_| {
        bad(
            Format::Layer,
            format!("{} DCs; layer-client holds at most 255", s.dcs.len()),
        )
    })?;
    let mut b = Vec::with_capacity(64 + s.dcs.len() * 300 + p.peers.len() * PEER_ENTRY);
    b.push(VERSION);
    b.extend_from_slice(&s.home_dc.unwrap_or(0).to_le_bytes());
    b.push(n_dcs);
    for dc in &s.dcs {
        // One entry per DC, like layer's own DC map: IPv4 unless only IPv6 is known, since
        // layer connects to the first entry of the home DC.
        let (addr, v6) = match super::portable::export_address(Format::Layer, dc)? {
            SocketAddr::V4(a) => (a.to_string(), false),
            SocketAddr::V6(a) => (format!("[{}]:{}", a.ip(), a.port()), true),
        };
        b.extend_from_slice(&dc.id.to_le_bytes());
        match &dc.auth_key {
            Some(k) => {
                b.push(1);
                b.extend_from_slice(k.as_bytes());
            }
            None => b.push(0),
        }
        b.extend_from_slice(&dc.server_salt.to_le_bytes());
        b.extend_from_slice(&dc.time_offset.to_le_bytes());
        b.push(addr.len() as u8); // at most 47 bytes
        b.extend_from_slice(addr.as_bytes());
        let kept = u8::try_from(dc.flags & u32::from(KEPT_FLAGS)).unwrap_or(0);
        b.push(kept | if v6 { IPV6 } else { 0 });
    }
    let st = s.update_state.unwrap_or_default();
    for v in [st.pts, st.qts, st.date, st.seq] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    // Counts wrap as layer-client's own writer does; every entry is still written.
    b.extend_from_slice(&(s.channels.len() as u16).to_le_bytes());
    for (id, pts) in &s.channels {
        b.extend_from_slice(&id.to_le_bytes());
        b.extend_from_slice(&pts.to_le_bytes());
    }
    // layer caches only users and channels with a hash, by bare id.
    let peers: Vec<(i64, i64, bool)> = p.peers.iter().filter_map(bare_peer).collect();
    b.extend_from_slice(&(peers.len() as u16).to_le_bytes());
    for (id, hash, is_channel) in peers {
        b.extend_from_slice(&id.to_le_bytes());
        b.extend_from_slice(&hash.to_le_bytes());
        b.push(u8::from(is_channel));
    }
    Ok(b)
}

fn bare_peer(peer: &Peer) -> Option<(i64, i64, bool)> {
    let hash = peer.access_hash?;
    if peer.kind.is_user() {
        return (peer.id > 0).then_some((peer.id, hash, false));
    }
    if peer.kind == PeerKind::BasicGroup {
        return None;
    }
    let bare = peer.id.checked_neg()?.checked_sub(CHANNEL_MARK)?;
    (bare > 0).then_some((bare, hash, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_every_layer_spelling() {
        assert_eq!(
            parse_addr(b"149.154.167.41:443"),
            "149.154.167.41:443".parse().ok()
        );
        let v6: Option<SocketAddr> = "[2001:b28:f23f:f005::a]:443".parse().ok();
        assert_eq!(parse_addr(b"[2001:b28:f23f:f005::a]:443"), v6);
        assert_eq!(parse_addr(b"2001:b28:f23f:f005::a:443"), v6);
        assert_eq!(parse_addr(b"dc.example:443"), None);
        assert_eq!(parse_addr(b"\xff:1"), None);
    }

    #[test]
    fn head_detection() {
        assert!(looks_like(&[3, 2, 0, 0, 0, 0]));
        assert!(looks_like(&[3, 2, 0, 0, 0, 1, 2, 0, 0, 0, 1]));
        assert!(!looks_like(&[3, 2, 0, 0, 0, 1, 2, 0, 0, 0, 7]));
        assert!(!looks_like(&[1, 2, 0, 0, 0, 0]));
        assert!(!looks_like(b"SQLite format 3\0"));
        assert!(!looks_like(&[3, 2]));
    }
}
