//! Switching a ferogram bot to sessiondb: change the line that picks the session backend.
//!
//! ```text
//! // before: Client::builder().session("bot.session")   (BinaryFileBackend)
//! let backend = Arc::new(sessiondb::FerogramSession::open("bot")?);
//! Client::builder().session_backend(backend) // ... unchanged from here on
//! ```
//!
//! This example needs no network: it makes the calls ferogram's client makes to its backend
//! (a full snapshot every minute and at shutdown, the update state every few seconds while
//! pts moves), restarts, and prints what survived (never the key itself).
//! Run: `cargo run --example ferogram_bot --features ferogram`

use std::sync::Arc;

use ferogram_session::{
    CachedMinPeer, CachedPeer, ChannelKind, DcEntry, DcFlags, PersistedSession, SessionBackend,
    UpdateStateChange,
};
use sessiondb::FerogramSession;

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bot");
    {
        let backend: Arc<dyn SessionBackend> = Arc::new(FerogramSession::open(&path)?);
        // Logged in on DC 2: the main entry carries the permanent key, the media one too.
        let mut main = DcEntry::from_parts(2, "149.154.167.51", 443, DcFlags::NONE);
        main.auth_key = Some(std::array::from_fn(|i| (i * 7 + 3) as u8));
        let mut media = DcEntry::from_parts(2, "149.154.167.222", 443, DcFlags::MEDIA_ONLY);
        media.auth_key = main.auth_key;
        let mut snapshot = PersistedSession {
            home_dc_id: 2,
            dcs: vec![main, media],
            ..PersistedSession::default()
        };
        // Ten minutes of a busy bot: peers arrive, pts moves every few seconds, and a
        // snapshot is saved every minute (only what changed is written).
        for minute in 0..10i64 {
            for i in 0..1_000 {
                let id = 1_000 + minute * 1_000 + i;
                let channel = i % 10 == 0;
                snapshot.peers.push(CachedPeer {
                    id,
                    access_hash: id * 17,
                    is_channel: channel,
                    is_chat: false,
                    channel_kind: channel.then_some(ChannelKind::Megagroup),
                    is_community: false,
                });
            }
            for tick in 0..12 {
                let pts = (100 + minute * 12 + tick) as i32;
                let change = UpdateStateChange::Primary {
                    pts,
                    date: 1_700_000_000 + pts,
                    seq: pts,
                };
                backend.apply_update_state(change.clone())?;
                change.apply_to(&mut snapshot.updates_state);
            }
            backend.apply_update_state(UpdateStateChange::Channel { id: 1_000, pts: 42 })?;
            snapshot.updates_state.set_channel_pts(1_000, 42);
            snapshot.min_peers = vec![CachedMinPeer {
                user_id: 77,
                peer_id: 1_000,
                msg_id: minute as i32,
            }];
            backend.save(&snapshot)?;
        }
        println!("saved 10 snapshots growing to 10000 peers, 130 durable update-state changes");
    }
    // The process restarts: everything the client needs comes back.
    let backend = FerogramSession::open(&path)?;
    let s = backend.load()?.ok_or("the session is there")?;
    let has_key = s.dcs.iter().all(|d| d.auth_key.is_some());
    println!(
        "after restart: home DC {}, {} DC entries, auth keys present: {has_key}",
        s.home_dc_id,
        s.dcs.len()
    );
    println!(
        "update state: pts {} date {} seq {}, {} channel(s); {} peers, {} min-peer context(s)",
        s.updates_state.pts,
        s.updates_state.date,
        s.updates_state.seq,
        s.updates_state.channels.len(),
        s.peers.len(),
        s.min_peers.len()
    );
    backend.close()?;
    Ok(())
}
