//! The one table of Telegram's DC addresses, for sessions that hold none.
//!
//! Pyrogram stores no address (its DC id decides it), and Pyrogram is where most
//! address-less sessions come from, so the table is Pyrogram 2.0.106's
//! (`pyrogram/session/internals/data_center.py`): production DCs on port 443, test DCs on
//! port 80, IPv4 and IPv6. A test-mode session only ever gets test addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::portable::{ExportOptions, Portable};
use crate::error::{Error, Result};
use crate::model::{DataCenter, Session};

/// (DC id, IPv4, IPv6) of the production DCs.
const PRODUCTION: [(i32, Ipv4Addr, Ipv6Addr); 6] = [
    (
        1,
        v4(149, 154, 175, 53),
        v6([0x2001, 0xb28, 0xf23d, 0xf001, 0xa]),
    ),
    (
        2,
        v4(149, 154, 167, 51),
        v6([0x2001, 0x67c, 0x4e8, 0xf002, 0xa]),
    ),
    (
        3,
        v4(149, 154, 175, 100),
        v6([0x2001, 0xb28, 0xf23d, 0xf003, 0xa]),
    ),
    (
        4,
        v4(149, 154, 167, 91),
        v6([0x2001, 0x67c, 0x4e8, 0xf004, 0xa]),
    ),
    (
        5,
        v4(91, 108, 56, 130),
        v6([0x2001, 0xb28, 0xf23f, 0xf005, 0xa]),
    ),
    (
        203,
        v4(91, 105, 192, 100),
        Ipv6Addr::new(0x2a0a, 0xf280, 0x203, 0xa, 0x5000, 0, 0, 0x100),
    ),
];
const PRODUCTION_PORT: u16 = 443;

/// (DC id, IPv4, IPv6) of the test DCs.
const TEST: [(i32, Ipv4Addr, Ipv6Addr); 3] = [
    (
        1,
        v4(149, 154, 175, 10),
        v6([0x2001, 0xb28, 0xf23d, 0xf001, 0xe]),
    ),
    (
        2,
        v4(149, 154, 167, 40),
        v6([0x2001, 0x67c, 0x4e8, 0xf002, 0xe]),
    ),
    (
        3,
        v4(149, 154, 175, 117),
        v6([0x2001, 0xb28, 0xf23d, 0xf003, 0xe]),
    ),
];
const TEST_PORT: u16 = 80;

const fn v4(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

/// `a:b:c:d::e`, the shape of every DC's IPv6 address but 203's.
const fn v6(g: [u16; 5]) -> Ipv6Addr {
    Ipv6Addr::new(g[0], g[1], g[2], g[3], 0, 0, 0, g[4])
}

/// The table of production or test DCs, and its port.
fn table(test_mode: bool) -> (&'static [(i32, Ipv4Addr, Ipv6Addr)], u16) {
    if test_mode {
        (&TEST, TEST_PORT)
    } else {
        (&PRODUCTION, PRODUCTION_PORT)
    }
}

/// The table's IPv4 and IPv6 address of DC `id` in production or test mode.
pub(crate) fn address(id: i32, test_mode: bool) -> Option<(SocketAddrV4, SocketAddrV6)> {
    let (dcs, port) = table(test_mode);
    let &(_, a, b) = dcs.iter().find(|(d, _, _)| *d == id)?;
    Some((SocketAddrV4::new(a, port), SocketAddrV6::new(b, port, 0, 0)))
}

/// Whether `ip` is one of the table's production (`test_mode` false) or test addresses.
fn in_table(ip: IpAddr, test_mode: bool) -> bool {
    table(test_mode)
        .0
        .iter()
        .any(|&(_, a, b)| ip == IpAddr::V4(a) || ip == IpAddr::V6(b))
}

fn addresses(dc: &DataCenter) -> impl Iterator<Item = IpAddr> + '_ {
    let a = dc.ipv4.map(|a| IpAddr::V4(*a.ip()));
    let b = dc.ipv6.map(|b| IpAddr::V6(*b.ip()));
    a.into_iter().chain(b)
}

/// After an import: a session whose DCs sit at test addresses is a test-mode session (Telethon
/// and grammers keep no flag), and every DC without an address gets the table's.
pub(crate) fn complete_import(p: &mut Portable) {
    let s = &mut p.session;
    if !s.app.test_mode
        && s.dcs
            .iter()
            .flat_map(addresses)
            .any(|ip| in_table(ip, true))
    {
        s.app.test_mode = true;
        p.notes
            .push("the session's DCs are Telegram's test DCs: kept as a test-mode session".into());
    }
    let filled = fill(&mut p.session);
    p.notes.extend(filled);
}

/// Before an export: the exported DC moved to `--dc-address` if given, every DC without an
/// address given the table's, and no test-mode key left at a production address. Returns a
/// note for each change.
pub(crate) fn complete_export(s: &mut Session, options: &ExportOptions) -> Result<Vec<String>> {
    let test = s.app.test_mode;
    let mut notes = Vec::new();
    if let Some(addr) = options.dc_address {
        if test && in_table(addr.ip(), false) {
            return Err(Error::InvalidArgument(format!(
                "the DC address {addr} is a production DC, and this is a test-mode session"
            )));
        }
        let id = options.dc.or(s.home_dc).ok_or_else(|| {
            Error::InvalidArgument("a DC address needs a home DC or a DC to export".into())
        })?;
        let dc = s
            .dcs
            .iter_mut()
            .find(|d| d.id == id)
            .ok_or_else(|| Error::InvalidArgument(format!("the session holds no DC {id}")))?;
        (dc.ipv4, dc.ipv6) = match addr {
            SocketAddr::V4(a) => (Some(a), None),
            SocketAddr::V6(a) => (None, Some(a)),
        };
    }
    if test {
        for dc in &mut s.dcs {
            if addresses(dc).any(|ip| in_table(ip, false)) {
                (dc.ipv4, dc.ipv6) = (None, None);
                notes.push(format!(
                    "DC {} of a test-mode session was at a production address: dropped",
                    dc.id
                ));
            }
        }
    }
    notes.extend(fill(s));
    Ok(notes)
}

/// Gives every DC that holds no address the table's (both families); a note for each.
fn fill(s: &mut Session) -> Vec<String> {
    let test = s.app.test_mode;
    let mut notes = Vec::new();
    for dc in &mut s.dcs {
        if dc.ipv4.is_some() || dc.ipv6.is_some() {
            continue;
        }
        if let Some((a, b)) = address(dc.id, test) {
            (dc.ipv4, dc.ipv6) = (Some(a), Some(b));
            let mode = if test { "test" } else { "production" };
            notes.push(format!(
                "DC {} had no address: using Telegram's {mode} address {a}",
                dc.id
            ));
        }
    }
    notes
}

/// The table's address for the family a format has no room to leave empty (grammers needs
/// both): the DC's own if it has one.
pub(crate) fn both(
    dc: &DataCenter,
    test_mode: bool,
) -> (Option<SocketAddrV4>, Option<SocketAddrV6>) {
    let table = address(dc.id, test_mode);
    (
        dc.ipv4.or(table.map(|t| t.0)),
        dc.ipv6.or(table.map(|t| t.1)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyrogram_table_and_ports() {
        let (a, b) = address(2, false).expect("DC 2");
        assert_eq!(a.to_string(), "149.154.167.51:443");
        assert_eq!(b.to_string(), "[2001:67c:4e8:f002::a]:443");
        let (a, b) = address(2, true).expect("test DC 2");
        assert_eq!(a.to_string(), "149.154.167.40:80");
        assert_eq!(b.to_string(), "[2001:67c:4e8:f002::e]:80");
        assert!(address(4, true).is_none(), "there are three test DCs");
        assert_eq!(
            address(203, false).map(|t| t.1.ip().to_string()),
            Some("2a0a:f280:203:a:5000::100".into())
        );
    }

    #[test]
    fn production_and_test_do_not_overlap() {
        for &(_, a, b) in &TEST {
            assert!(!in_table(IpAddr::V4(a), false) && !in_table(IpAddr::V6(b), false));
        }
    }
}
