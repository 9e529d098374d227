//! ferogram binary sessions (`PersistedSession::to_bytes` in ferogram-session 0.6), read at
//! versions 4 to 8 (2 and 3 are layer-client's, read as `layer`) and written at 8;
//! little-endian:
//!
//! ```text
//! u8 version   i32 home DC   u8 n_entries
//! per entry: i32 DC id, u8 key marker (1: a 256-byte key follows; anything else: none),
//!            i64 salt, i32 time offset, u8 len, address text, u8 flags
//!            (1 IPv6, 2 media-only, 4 TCPO-only, 8 CDN, 16 static)
//! i32 pts, i32 qts, i32 date, i32 seq
//! u16 n_channels × {i64 bare channel id, i32 pts}
//! u16 n_peers × {i64 bare id, i64 access hash, u8 type (0 user, 1 channel, 2 chat),
//!               v6+: u8 channel kind (0 broadcast, 1 megagroup, 2 gigagroup, 0xFF none),
//!               v8: u8 community (1: a community, whatever the type byte says)}
//! u16 n_min_peers × {i64 user id, i64 peer id, i32 message id}
//! v7+: u8 has_token, and if 1: u16 len, token bytes
//! ```
//!
//! Every entry of the DC list is kept exactly (as the account's DC endpoints) and one
//! `DataCenter` per DC is derived from them. The counts are u8 and u16: an export refuses
//! what does not fit instead of writing a file ferogram misreads.

use std::collections::BTreeMap;

use super::le_reader::Reader;
use super::portable::{Format, Portable, bad};
use crate::dc_endpoints::{data_centers, visible_endpoints};
use crate::error::Result;
use crate::extras::{DcEndpoint, LoginToken, MinPeerContext};
use crate::ferogram_peer::FeroPeer;
use crate::model::{AUTH_KEY_LEN, AuthKey, UpdateState};

const VERSION: u8 = 8;
const OLDEST: u8 = 4;
const NO_KIND: u8 = 0xFF;

/// Whether the first bytes look like a ferogram session: a version from 4 to 8, a small
/// home DC and, when present, a first entry with a small DC id.
pub(crate) fn looks_like(head: &[u8]) -> bool {
    let mut r = Reader::new(head, Format::Ferogram);
    let (Ok(version), Ok(home), Ok(n)) = (r.u8(), r.i32(), r.u8()) else {
        return false;
    };
    if !(OLDEST..=VERSION).contains(&version) || !(0..=0xffff).contains(&home) {
        return false;
    }
    n == 0 || r.i32().is_ok_and(|id| (1..=0xffff).contains(&id)) || r.rest() == 0
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Portable> {
    let mut r = Reader::new(bytes, Format::Ferogram);
    let version = r.u8()?;
    if !(OLDEST..=VERSION).contains(&version) {
        return Err(bad(
            Format::Ferogram,
            format!(
                "format version {version}; sessiondb reads ferogram versions {OLDEST} to \
                 {VERSION} (2 and 3 as layer)"
            ),
        ));
    }
    let home = r.i32()?;
    let mut p = Portable::default();
    for _ in 0..r.u8()? {
        let dc = r.i32()?;
        let auth_key = match r.u8()? {
            1 => Some(AuthKey::from_slice(r.take(AUTH_KEY_LEN)?).map_err(|_| r.err())?),
            _ => None,
        };
        let (server_salt, time_offset) = (r.i64()?, r.i32()?);
        let len = usize::from(r.u8()?);
        // ferogram reads the text lossily too.
        let address = String::from_utf8_lossy(r.take(len)?).into_owned();
        let flags = u32::from(r.u8()?);
        p.dc_endpoints.push(DcEndpoint {
            dc,
            address,
            flags,
            auth_key,
            server_salt,
            time_offset,
        });
    }
    let state = UpdateState {
        pts: r.i32()?,
        qts: r.i32()?,
        date: r.i32()?,
        seq: r.i32()?,
    };
    p.session.home_dc = (home != 0).then_some(home);
    p.session.update_state = (state != UpdateState::default()).then_some(state);
    p.session.dcs = data_centers(&p.dc_endpoints).into_values().collect();
    for _ in 0..r.u16()? {
        let (id, pts) = (r.i64()?, r.i32()?);
        p.session.channels.insert(id, pts);
    }
    read_peers(&mut r, version, &mut p)?;
    let mut contexts = BTreeMap::new();
    for _ in 0..r.u16()? {
        let c = MinPeerContext {
            user_id: r.i64()?,
            peer_id: r.i64()?,
            msg_id: r.i32()?,
        };
        contexts.insert(c.user_id, c);
    }
    p.min_peers = contexts.into_values().collect();
    if version >= 7 && r.u8()? == 1 {
        let len = usize::from(r.u16()?);
        p.login_token = Some(LoginToken::new(r.take(len)?.to_vec())?);
    }
    if r.rest() > 0 {
        p.notes.push(format!(
            "{} bytes after the session ignored (ferogram ignores them too)",
            r.rest()
        ));
    }
    Ok(p)
}

fn read_peers(r: &mut Reader<'_>, version: u8, p: &mut Portable) -> Result<()> {
    let n = usize::from(r.u16()?);
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        let (id, access_hash, kind) = (r.i64()?, r.i64()?, r.u8()?);
        let channel_kind = if version >= 6 { r.u8()? } else { NO_KIND };
        entries.push(FeroPeer {
            id,
            access_hash,
            is_chat: kind == 2,
            is_channel: kind == 1,
            channel_kind: (channel_kind != NO_KIND).then_some(channel_kind),
            is_community: version >= 8 && r.u8()? != 0,
        });
    }
    add_peers(p, entries);
    Ok(())
}

/// ferogram's peer entries as ours, with a note for those skipped or listed twice.
pub(super) fn add_peers(p: &mut Portable, entries: impl IntoIterator<Item = FeroPeer>) {
    let (mut invalid, mut duplicate) = (0usize, 0usize);
    let mut at = std::collections::HashMap::new();
    for entry in entries {
        let Some(marked) = entry.marked_id() else {
            invalid += 1;
            continue;
        };
        let peer = entry.to_peer(marked, None);
        // ferogram's client loads the list into maps: the last entry for an id wins.
        match at.get(&peer.id) {
            Some(&i) => {
                duplicate += 1;
                p.peers[i] = peer;
            }
            None => {
                at.insert(peer.id, p.peers.len());
                p.peers.push(peer);
            }
        }
    }
    if invalid > 0 {
        p.notes.push(format!(
            "{invalid} peer(s) with an id outside Telegram's ranges skipped"
        ));
    }
    if duplicate > 0 {
        p.notes.push(format!(
            "{duplicate} peer id(s) listed more than once: the last entry kept"
        ));
    }
}

/// What an export writes: the DC entries a client sees (the stored endpoints completed
/// from the DCs) and the peers ferogram can hold.
pub(super) fn export_entries(p: &Portable) -> (Vec<DcEndpoint>, Vec<FeroPeer>) {
    let dcs = p.session.dcs.iter().map(|d| (d.id, d.clone())).collect();
    let endpoints = visible_endpoints(p.dc_endpoints.clone(), &dcs);
    (endpoints, p.peers.iter().filter_map(FeroPeer::of).collect())
}

/// Refuses a count past what the format's field holds.
fn fits(what: &str, n: usize, max: usize) -> Result<()> {
    if n > max {
        return Err(bad(
            Format::Ferogram,
            format!("{n} {what}: ferogram's format holds at most {max}"),
        ));
    }
    Ok(())
}

pub(crate) fn encode(p: &Portable) -> Result<Vec<u8>> {
    let s = &p.session;
    let (endpoints, peers) = export_entries(p);
    fits("DC entries", endpoints.len(), usize::from(u8::MAX))?;
    fits("channels", s.channels.len(), usize::from(u16::MAX))?;
    fits("peers", peers.len(), usize::from(u16::MAX))?;
    fits(
        "min-peer contexts",
        p.min_peers.len(),
        usize::from(u16::MAX),
    )?;
    let mut b = Vec::with_capacity(64 + endpoints.len() * 300 + peers.len() * 19);
    b.push(VERSION);
    b.extend_from_slice(&s.home_dc.unwrap_or(0).to_le_bytes());
    b.push(endpoints.len() as u8);
    for e in &endpoints {
        fits(
            "bytes of a DC address",
            e.address.len(),
            usize::from(u8::MAX),
        )?;
        let flags = u8::try_from(e.flags)
            .map_err(|_| bad(Format::Ferogram, format!("DC {} flags {}", e.dc, e.flags)))?;
        b.extend_from_slice(&e.dc.to_le_bytes());
        match &e.auth_key {
            Some(k) => {
                b.push(1);
                b.extend_from_slice(k.as_bytes());
            }
            None => b.push(0),
        }
        b.extend_from_slice(&e.server_salt.to_le_bytes());
        b.extend_from_slice(&e.time_offset.to_le_bytes());
        b.push(e.address.len() as u8);
        b.extend_from_slice(e.address.as_bytes());
        b.push(flags);
    }
    let state = s.update_state.unwrap_or_default();
    for v in [state.pts, state.qts, state.date, state.seq] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&(s.channels.len() as u16).to_le_bytes());
    for (id, pts) in &s.channels {
        b.extend_from_slice(&id.to_le_bytes());
        b.extend_from_slice(&pts.to_le_bytes());
    }
    b.extend_from_slice(&(peers.len() as u16).to_le_bytes());
    for f in peers {
        b.extend_from_slice(&f.id.to_le_bytes());
        b.extend_from_slice(&f.access_hash.to_le_bytes());
        let kind = if f.is_chat { 2 } else { u8::from(f.is_channel) };
        let channel_kind = f.channel_kind.unwrap_or(NO_KIND);
        b.extend_from_slice(&[kind, channel_kind, u8::from(f.is_community)]);
    }
    b.extend_from_slice(&(p.min_peers.len() as u16).to_le_bytes());
    for m in &p.min_peers {
        b.extend_from_slice(&m.user_id.to_le_bytes());
        b.extend_from_slice(&m.peer_id.to_le_bytes());
        b.extend_from_slice(&m.msg_id.to_le_bytes());
    }
    match &p.login_token {
        Some(t) => {
            b.push(1);
            fits("token bytes", t.as_bytes().len(), usize::from(u16::MAX))?;
            b.extend_from_slice(&(t.as_bytes().len() as u16).to_le_bytes());
            b.extend_from_slice(t.as_bytes());
        }
        None => b.push(0),
    }
    Ok(b)
}
