//! DC endpoint lists (ferogram's per-address DC entries) and the per-DC view every other
//! front and format reads: used by the ferogram adapter and the formats only.

use std::collections::BTreeMap;
use std::net::{SocketAddrV4, SocketAddrV6};

use crate::extras::DcEndpoint;
use crate::model::DataCenter;

/// Endpoint flag bits as ferogram (and layer-client before it) set them.
const ENDPOINT_IPV6: u32 = 1;
const ENDPOINT_MEDIA_ONLY: u32 = 2;
const ENDPOINT_CDN: u32 = 8;

/// Whether an endpoint serves only media or is a CDN: not where the account's key lives.
fn is_secondary(e: &DcEndpoint) -> bool {
    e.flags & (ENDPOINT_MEDIA_ONLY | ENDPOINT_CDN) != 0
}

/// One `DataCenter` per DC id for an endpoint list: the key, salt, clock offset and flags of
/// its first main endpoint (else its first), an IPv4 and an IPv6 address from its endpoints
/// (main ones first). What every other front and every export reads.
pub(crate) fn data_centers(endpoints: &[DcEndpoint]) -> BTreeMap<i32, DataCenter> {
    let mut out = BTreeMap::new();
    for id in endpoints.iter().map(|e| e.dc) {
        if out.contains_key(&id) {
            continue;
        }
        let mut of_dc: Vec<&DcEndpoint> = endpoints.iter().filter(|e| e.dc == id).collect();
        // Main endpoints first; the sort is stable, so each group keeps the client's order.
        of_dc.sort_by_key(|e| is_secondary(e));
        let primary = of_dc[0];
        let mut dc = DataCenter::new(id);
        dc.auth_key = primary.auth_key.clone();
        dc.server_salt = primary.server_salt;
        dc.time_offset = primary.time_offset;
        dc.flags = primary.flags;
        dc.ipv4 = of_dc
            .iter()
            .find_map(|e| e.address.parse::<SocketAddrV4>().ok());
        dc.ipv6 = of_dc
            .iter()
            .find_map(|e| e.address.parse::<SocketAddrV6>().ok());
        out.insert(id, dc);
    }
    out
}

/// The endpoints of a DC stored without any (set by another front or imported): its IPv4
/// address, then its IPv6 one, each with the DC's key, salt, offset and flags.
pub(crate) fn derived_endpoints(dc: &DataCenter) -> Vec<DcEndpoint> {
    let endpoint = |address: String, flags: u32| DcEndpoint {
        dc: dc.id,
        address,
        flags,
        auth_key: dc.auth_key.clone(),
        server_salt: dc.server_salt,
        time_offset: dc.time_offset,
    };
    let mut out = Vec::new();
    if let Some(v4) = dc.ipv4 {
        out.push(endpoint(v4.to_string(), dc.flags & !ENDPOINT_IPV6));
    }
    if let Some(v6) = dc.ipv6 {
        out.push(endpoint(v6.to_string(), dc.flags | ENDPOINT_IPV6));
    }
    if out.is_empty() {
        out.push(endpoint(String::new(), dc.flags));
    }
    out
}

/// The endpoint list a client sees: the stored one, then the derived endpoints of every DC
/// that has none.
pub(crate) fn visible_endpoints(
    stored: Vec<DcEndpoint>,
    dcs: &BTreeMap<i32, DataCenter>,
) -> Vec<DcEndpoint> {
    let mut out = stored;
    for dc in dcs.values() {
        if !out.iter().any(|e| e.dc == dc.id) {
            out.extend(derived_endpoints(dc));
        }
    }
    out
}
