//! ferogram-session 0.6.6's `SqliteBackend`, offline, on fake data (nothing real):
//!
//! - `write <dir>`: `ferogram-0.6.6.sqlite`, a session saved whole (three DC entries: DC 2
//!   with key, salt and time offset, a media-only DC 2 entry sharing the key, an IPv6 DC 4
//!   entry; update state, two channels; forty peers of the four kinds, ten of each; two
//!   min-peer contexts; a three-byte login token) and then changed by the incremental calls
//!   (`apply_update_state`, `update_dc`, `cache_peer`), so the file holds both paths' rows.
//! - `read <file>`: loads a file with `SqliteBackend` and prints a digest of what it holds
//!   (counts, the update state and sums of ids and hashes; no key bytes).

use ferogram_session::{
    CachedMinPeer, CachedPeer, ChannelKind, DcEntry, DcFlags, PersistedSession, SessionBackend,
    SqliteBackend, UpdateStateChange, UpdatesStateSnap,
};

fn peer(id: i64, kind: u8) -> CachedPeer {
    CachedPeer {
        id,
        access_hash: if kind == 2 { 0 } else { id * 7919 },
        is_channel: kind == 1,
        is_chat: kind == 2,
        channel_kind: match (kind, id % 4) {
            (1, 3) => None,
            (1, k) => ChannelKind::from_byte(k as u8),
            _ => None,
        },
        is_community: kind == 3,
    }
}

fn session() -> PersistedSession {
    let mut main = DcEntry::from_parts(2, "149.154.167.51", 443, DcFlags::NONE);
    main.auth_key = Some(std::array::from_fn(|i| (i * 13 + 1) as u8));
    main.first_salt = -77;
    main.time_offset = 3;
    let mut media = DcEntry::from_parts(2, "149.154.167.222", 443, DcFlags::MEDIA_ONLY);
    media.auth_key = main.auth_key;
    let v6 = DcEntry::from_parts(4, "2001:67c:4e8:f004::a", 443, DcFlags::IPV6);
    PersistedSession {
        home_dc_id: 2,
        dcs: vec![main, media, v6],
        updates_state: UpdatesStateSnap {
            pts: 1234,
            qts: 5,
            date: 1_700_000_000,
            seq: 9,
            channels: vec![(1_001, 17), (1_005, 2)],
        },
        peers: (1..=40).map(|i| peer(1_000 + i, (i % 4) as u8)).collect(),
        min_peers: vec![
            CachedMinPeer {
                user_id: 1_004,
                peer_id: 1_001,
                msg_id: 55,
            },
            CachedMinPeer {
                user_id: 1_008,
                peer_id: 1_005,
                msg_id: 56,
            },
        ],
        future_auth_token: Some(vec![0xfe, 0x0d, 0x42]),
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, dir] if cmd == "write" => {
            write(&std::path::Path::new(dir).join("ferogram-0.6.6.sqlite"))
        }
        [cmd, file] if cmd == "read" => read(std::path::Path::new(file)),
        _ => Err(std::io::Error::other("usage: write <dir> | read <file>")),
    }
}

fn write(path: &std::path::Path) -> std::io::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    {
        let be = SqliteBackend::open(path)?;
        be.save(&session())?;
        be.apply_update_state(UpdateStateChange::Primary {
            pts: 1300,
            date: 1_700_000_100,
            seq: 10,
        })?;
        be.apply_update_state(UpdateStateChange::Channel { id: 1_009, pts: 4 })?;
        let mut dc1 = DcEntry::from_parts(1, "149.154.175.53", 443, DcFlags::STATIC);
        dc1.first_salt = 11;
        be.update_dc(&dc1)?;
        be.cache_peer(&peer(2_001, 1))?;
    }
    read(path)
}

fn read(path: &std::path::Path) -> std::io::Result<()> {
    let s = SqliteBackend::open(path)?
        .load()?
        .ok_or_else(|| std::io::Error::other("no session"))?;
    let u = &s.updates_state;
    let count = |f: fn(&CachedPeer) -> bool| s.peers.iter().filter(|p| f(p)).count();
    let mut channels = u.channels.clone();
    channels.sort();
    println!(
        "home={} entries={} keys={} flags={} pts={} qts={} date={} seq={} channels={:?} \
         peers={} channels_kind={} chats={} communities={} id_sum={} hash_sum={} min_peers={} token={}",
        s.home_dc_id,
        s.dcs.len(),
        s.dcs.iter().filter(|d| d.auth_key.is_some()).count(),
        s.dcs.iter().map(|d| u32::from(d.flags.0)).sum::<u32>(),
        u.pts,
        u.qts,
        u.date,
        u.seq,
        channels,
        s.peers.len(),
        count(|p| p.channel_kind.is_some()),
        count(|p| p.is_chat),
        count(|p| p.is_community),
        s.peers.iter().map(|p| p.id).sum::<i64>(),
        s.peers
            .iter()
            .fold(0i64, |a, p| a.wrapping_add(p.access_hash)),
        s.min_peers.len(),
        s.future_auth_token.as_ref().map_or(0, Vec::len),
    );
    Ok(())
}
