//! Writes layer-client 0.5.0 session files with the library's own `BinaryFileBackend`,
//! offline, from the same fake data as the Python fixtures (nothing real).
//!
//! - `layer-0.5.0.session`: what `save_session` writes for one main entry per DC: DC 2
//!   (IPv4, with key, salt, time offset), DC 1 (static flag), DC 4 (IPv6 via
//!   `DcEntry::from_parts`, so `[ip]:port`), update state, two channel states, four users
//!   and two channels in the peer cache.
//! - `layer-0.5.0-getconfig.session`: the shapes `help.getConfig` adds: a media-only entry
//!   for DC 2 that shares its key (`DcPool::collect_keys`), and an IPv6 address written as
//!   `format!("{}:{}", ip, port)`, i.e. without brackets.
//! - `layer-0.5.0.string`: the first session as layer's `StringSessionBackend` holds it.
//!
//! layer-client does not export `CachedPeer`: peers come from a one-peer template string
//! that layer's own `StringSessionBackend` parses, cloned and changed field by field, then
//! stored with `SessionBackend::cache_peer`. Every file is read back with layer's loader.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use layer_client::{
    BinaryFileBackend, DcEntry, DcFlags, SessionBackend, StringSessionBackend, UpdateStateChange,
};

fn auth_key() -> [u8; 256] {
    std::array::from_fn(|i| ((i * 7 + 3) % 256) as u8)
}

const USERS: [(i64, i64); 4] = [
    (123456789, 8765432109876543210),
    (5000000001, -4242424242424242424),
    (222333444, -1),
    (987654321, 1234567890123456789),
];
const CHANNELS: [(i64, i64); 2] = [
    (1777888999, 5555666677778888999),
    (1222333444, -7000000000000000001),
];

fn main() -> std::io::Result<()> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    plain(&out.join("layer-0.5.0.session"))?;
    getconfig(&out.join("layer-0.5.0-getconfig.session"))?;
    string(&out.join("layer-0.5.0.session"), &out.join("layer-0.5.0.string"))?;
    Ok(())
}

/// `layer-0.5.0.string`: the plain session as layer's own `StringSessionBackend` holds it
/// (what `export_session_string` returns), read back by layer.
fn string(from: &Path, out: &Path) -> std::io::Result<()> {
    let session = BinaryFileBackend::new(from).load()?.expect("written above");
    let be = StringSessionBackend::new("");
    be.save(&session)?;
    std::fs::write(out, be.current())?;
    let back = StringSessionBackend::new(std::fs::read_to_string(out)?).load()?;
    assert_eq!(back.map(|s| s.peers.len()), Some(session.peers.len()));
    Ok(())
}

fn fresh(path: &Path) -> std::io::Result<BinaryFileBackend> {
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let be = BinaryFileBackend::new(path);
    be.set_home_dc(2)?;
    be.update_dc(&DcEntry {
        dc_id: 2,
        addr: "149.154.167.41:443".into(),
        auth_key: Some(auth_key()),
        first_salt: -6_000_000_000_000_000_001,
        time_offset: -3,
        flags: DcFlags::NONE,
    })?;
    Ok(be)
}

fn plain(path: &Path) -> std::io::Result<()> {
    let be = fresh(path)?;
    be.update_dc(&DcEntry::from_parts(1, "149.154.175.53", 443, DcFlags::STATIC))?;
    be.update_dc(&DcEntry::from_parts(4, "2001:67c:4e8:f004::a", 443, DcFlags::IPV6))?;
    be.apply_update_state(UpdateStateChange::Primary { pts: 100, date: 1700000000, seq: 7 })?;
    be.apply_update_state(UpdateStateChange::Secondary { qts: 5 })?;
    // Ascending ids, the order sessiondb's export writes them in.
    be.apply_update_state(UpdateStateChange::Channel { id: 1222333444, pts: 777 })?;
    be.apply_update_state(UpdateStateChange::Channel { id: 1777888999, pts: 4242 })?;

    let template = StringSessionBackend::new(template_string())
        .load()?
        .and_then(|mut s| s.peers.pop())
        .expect("template peer");
    for (id, hash, is_channel) in USERS
        .iter()
        .map(|&(i, h)| (i, h, false))
        .chain(CHANNELS.iter().map(|&(i, h)| (i, h, true)))
    {
        let mut p = template.clone();
        p.id = id;
        p.access_hash = hash;
        p.is_channel = is_channel;
        be.cache_peer(&p)?;
    }
    report(path, &be)
}

fn getconfig(path: &Path) -> std::io::Result<()> {
    let be = fresh(path)?;
    let mut s = be.load()?.expect("saved above");
    let mut media = DcEntry::from_parts(2, "149.154.167.151", 443, DcFlags::MEDIA_ONLY);
    media.auth_key = Some(auth_key());
    s.dcs.push(media);
    s.dcs.push(DcEntry {
        dc_id: 5,
        addr: format!("{}:{}", "2001:b28:f23f:f005::a", 443),
        auth_key: None,
        first_salt: 0,
        time_offset: 0,
        flags: DcFlags::IPV6,
    });
    be.save(&s)?;
    report(path, &be)
}

/// A version-3 session with no DCs, zero state, no channels and one peer, in layer's own
/// `PersistedSession::from_string` encoding (URL-safe base64 without padding).
fn template_string() -> String {
    let mut b = vec![3u8];
    b.extend_from_slice(&0i32.to_le_bytes());
    b.push(0);
    b.extend_from_slice(&[0; 16]);
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1i64.to_le_bytes());
    b.extend_from_slice(&0i64.to_le_bytes());
    b.push(0);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn report(path: &Path, be: &BinaryFileBackend) -> std::io::Result<()> {
    let s = be.load()?.expect("layer reads its own file back");
    let len = std::fs::metadata(path)?.len();
    println!(
        "{}: {len} bytes, home DC {}, {} DC entries, {} channels, {} peers",
        path.display(),
        s.home_dc_id,
        s.dcs.len(),
        s.updates_state.channels.len(),
        s.peers.len()
    );
    Ok(())
}
