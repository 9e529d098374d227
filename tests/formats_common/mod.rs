//! Helpers shared by the format tests (fixtures, fake keys, comparisons that print no
//! secrets).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use sessiondb::AuthKey;
use sessiondb::formats::Portable;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/formats")
        .join(name)
}

pub fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("fixture")
}

/// The home DC's row of a session (panics, naming nothing secret, when there is none).
pub fn home_dc(p: &Portable) -> &sessiondb::DataCenter {
    let home = p.session.home_dc.expect("home DC");
    p.session
        .dcs
        .iter()
        .find(|d| d.id == home)
        .expect("home DC row")
}

/// A DC's address as a client connects: IPv4, or else IPv6.
pub fn address(dc: &sessiondb::DataCenter) -> Option<std::net::SocketAddr> {
    dc.ipv4
        .map(std::net::SocketAddr::V4)
        .or(dc.ipv6.map(std::net::SocketAddr::V6))
}

pub fn fake_key() -> AuthKey {
    AuthKey::new(std::array::from_fn(|i| ((i * 7 + 3) % 256) as u8))
}

/// Equality without Debug output of the values (they hold keys and addresses).
pub fn same<T: PartialEq>(a: &T, b: &T, what: &str) {
    assert!(a == b, "{what}: values differ");
}

pub fn same_portable(a: &Portable, b: &Portable, what: &str) {
    same(
        &a.session.home_dc,
        &b.session.home_dc,
        &format!("{what}: home DC"),
    );
    assert!(
        a.session.dcs.len() == b.session.dcs.len(),
        "{what}: {} vs {} DCs",
        a.session.dcs.len(),
        b.session.dcs.len()
    );
    for (x, y) in a.session.dcs.iter().zip(&b.session.dcs) {
        same(x, y, &format!("{what}: DC {}", x.id));
    }
    same(&a.session, &b.session, &format!("{what}: session"));
    assert!(
        a.peers.len() == b.peers.len(),
        "{what}: {} vs {} peers",
        a.peers.len(),
        b.peers.len()
    );
    same(&a.peers, &b.peers, &format!("{what}: peers"));
}
