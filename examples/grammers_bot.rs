//! Switching a grammers bot to sessiondb: change the line that opens the session.
//!
//! ```text
//! // before: let session = Arc::new(SqliteSession::open("bot.session").await?);
//! let session = Arc::new(sessiondb::GrammersSession::open("bot")?);
//! // unchanged: the client takes the session as an `Arc` (erased to `Arc<ErasedSession>`).
//! ```
//!
//! This example needs no network: it makes the calls grammers' client makes while it logs in
//! and receives updates, restarts, and prints what survived (never the key itself).
//! Run: `cargo run --example grammers_bot --features grammers`

use std::sync::Arc;

use grammers_session::Session;
use grammers_session::types::{ChannelKind, PeerAuth, PeerId, PeerInfo, UpdateState};
use sessiondb::GrammersSession;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bot");
    {
        let session = grammers_session::storages::erase(Arc::new(GrammersSession::open(&path)?));
        // What the client does after generating a permanent key on its home DC and logging in.
        let mut dc = session.dc_option(2)?.ok_or("grammers knows DC 2")?;
        dc.auth_key = Some(std::array::from_fn(|i| (i * 7 + 3) as u8));
        session.set_dc_option(&dc).await?;
        session.set_home_dc_id(2).await?;
        let me = PeerInfo::User {
            id: 123_456_789,
            auth: Some(PeerAuth::from_hash(0x5eed)),
            bot: Some(true),
            is_self: Some(true),
        };
        session.cache_peer(me).await?;
        // Peers arrive in batches with every update; the update state after each is handled.
        for batch in 0..50i64 {
            let peers = (0..200)
                .map(|i| {
                    let id = 1_000 + batch * 200 + i;
                    if i % 10 == 0 {
                        PeerInfo::Channel {
                            id,
                            auth: Some(PeerAuth::from_hash(id * 31)),
                            kind: Some(ChannelKind::Megagroup),
                        }
                    } else {
                        PeerInfo::User {
                            id,
                            auth: Some(PeerAuth::from_hash(id * 17)),
                            bot: Some(false),
                            is_self: None,
                        }
                    }
                })
                .collect();
            session.cache_peers(peers).await?;
            let pts = 100 + batch as i32;
            let (date, seq) = (1_700_000_000 + batch as i32, batch as i32);
            session
                .set_update_state(UpdateState::Primary { pts, date, seq })
                .await?;
        }
        session
            .set_update_state(UpdateState::Channel { id: 1_000, pts: 42 })
            .await?;
        println!("cached 10000 peers in 50 batches and 51 durable update-state changes");
    }
    // The process restarts: everything the client needs comes back.
    let session = GrammersSession::open(&path)?;
    let home = session.home_dc_id()?;
    let has_key = session
        .dc_option(home)?
        .and_then(|dc| dc.auth_key)
        .is_some();
    let me = session.peer(PeerId::self_user()).await?;
    let channel = session
        .peer_ref(PeerId::channel(1_000).ok_or("id")?)
        .await?;
    let state = session.updates_state().await?;
    println!("after restart: home DC {home}, auth key present: {has_key}");
    println!(
        "self user found: {}, channel 1000 resolvable: {}",
        me.is_some(),
        channel.is_some()
    );
    println!(
        "update state: pts {} date {} seq {}, {} channel(s); {} peers cached",
        state.pts,
        state.date,
        state.seq,
        state.channels.len(),
        session.account().peer_count()?
    );
    session.close()?;
    Ok(())
}
