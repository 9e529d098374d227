//! Writes a grammers-session 0.11 `SqliteSession` file from fake data, offline:
//! `cargo run -- ../../tests/fixtures/formats/grammers-0.11.sqlite`. The values are listed in
//! tests/formats_grammers.rs, which checks the import against them.

use grammers_session::Session;
use grammers_session::storages::SqliteSession;
use grammers_session::types::{
    ChannelKind, ChannelState, DcOption, PeerAuth, PeerInfo, UpdateState, UpdatesState,
};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let path = std::env::args().nth(1).expect("usage: <output path>");
    let _ = std::fs::remove_file(&path);
    let s = SqliteSession::open(&path).await.expect("open");
    let key: [u8; 256] = std::array::from_fn(|i| ((i * 7 + 3) % 256) as u8);
    let mut dc = s.dc_option(4).expect("dc").expect("known DC 4");
    dc.auth_key = Some(key);
    s.set_dc_option(&dc).await.expect("dc");
    s.set_dc_option(&DcOption {
        id: 2,
        ipv4: "149.154.167.41:443".parse().expect("v4"),
        ipv6: "[2001:67c:4e8:f002::a]:443".parse().expect("v6"),
        auth_key: None,
    })
    .await
    .expect("dc 2");
    s.set_home_dc_id(4).await.expect("home");
    let user = |id, auth: Option<i64>, bot, is_self| PeerInfo::User {
        id,
        auth: auth.map(PeerAuth::from_hash),
        bot,
        is_self,
    };
    let channel = |id, auth: i64, kind| PeerInfo::Channel {
        id,
        auth: Some(PeerAuth::from_hash(auth)),
        kind,
    };
    s.cache_peers(vec![
        user(123_456_789, Some(-5_000_000_000_000_000_001), Some(false), Some(true)),
        user(987_654_321, Some(42), Some(true), Some(false)),
        user(5_000_000_001, Some(7), Some(false), None),
        user(222_333_444, None, None, None),
        PeerInfo::Chat { id: 444_555_666 },
        channel(1_777_888_999, 5_555_666_677_778_888_999, Some(ChannelKind::Broadcast)),
        channel(1_222_333_444, -7_000_000_000_000_000_001, Some(ChannelKind::Megagroup)),
        channel(1_333_444_555, 11, Some(ChannelKind::Gigagroup)),
        channel(1_444_555_666, 12, None),
    ])
    .await
    .expect("peers");
    s.set_update_state(UpdateState::All(UpdatesState {
        pts: 100,
        qts: 5,
        date: 1_700_000_000,
        seq: 7,
        channels: vec![
            ChannelState { id: 1_777_888_999, pts: 4242 },
            ChannelState { id: 1_222_333_444, pts: 777 },
        ],
    }))
    .await
    .expect("state");
    println!("wrote {path}");
}
