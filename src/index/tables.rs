//! The index's tables, one per kind of data, and the rows that are ours to decode: every
//! per-account table is keyed by the account's number (`accounts` maps names to numbers).

use redb::{TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::codec::ValueCodec;
use crate::error::Result;
use crate::model::User;

pub(crate) const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
pub(crate) const SESSIONS: TableDefinition<u32, &[u8]> = TableDefinition::new("sessions");
pub(crate) const DCS: TableDefinition<(u32, i32), &[u8]> = TableDefinition::new("dcs");
pub(crate) const UPDATE_STATE: TableDefinition<u32, &[u8]> = TableDefinition::new("update_state");
pub(crate) const CHANNEL_STATE: TableDefinition<(u32, i64), &[u8]> =
    TableDefinition::new("channel_state");
pub(crate) const APP_FIELDS: TableDefinition<u32, &[u8]> = TableDefinition::new("app_fields");
pub(crate) const PEERS: TableDefinition<(u32, i64), &[u8]> = TableDefinition::new("peers");
/// Username → `[CRC32][peer id]` (format 2; see `codec::encode_id`).
pub(crate) const USERNAMES: TableDefinition<(u32, &str), &[u8]> = TableDefinition::new("usernames");
/// Phone → `[CRC32][peer id]` (format 2).
pub(crate) const PHONES: TableDefinition<(u32, &str), &[u8]> = TableDefinition::new("phones");
/// Min-peer contexts by user id (added after format 3; a store without it has none).
pub(crate) const MIN_PEERS: TableDefinition<(u32, i64), &[u8]> = TableDefinition::new("min_peers");
/// The extras row of an account: login token and DC endpoints (added with `MIN_PEERS`).
pub(crate) const EXTRAS: TableDefinition<u32, &[u8]> = TableDefinition::new("extras");
/// Format 1's username and phone tables: bare peer ids.
pub(crate) const OLD_USERNAMES: TableDefinition<(u32, &str), i64> =
    TableDefinition::new("peers_by_username");
pub(crate) const OLD_PHONES: TableDefinition<(u32, &str), i64> =
    TableDefinition::new("peers_by_phone");

/// The `accounts` row: the number that keys the account's rows in the other tables.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct AccountRecord {
    pub number: u32,
}

/// The `sessions` row of an account.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct SessionRecord {
    pub home_dc: Option<i32>,
    pub user: Option<User>,
    pub self_peer: Option<i64>,
    /// Cached peers of the account, so `count` is O(1).
    pub peer_count: u64,
}

/// Creates every table of this build's format.
pub(crate) fn create_tables(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(ACCOUNTS)?;
    txn.open_table(SESSIONS)?;
    txn.open_table(DCS)?;
    txn.open_table(UPDATE_STATE)?;
    txn.open_table(CHANNEL_STATE)?;
    txn.open_table(APP_FIELDS)?;
    txn.open_table(PEERS)?;
    txn.open_table(USERNAMES)?;
    txn.open_table(PHONES)?;
    txn.open_table(MIN_PEERS)?;
    txn.open_table(EXTRAS)?;
    Ok(())
}

/// An `accounts` row. Sealed, it is bound to the account's name: swapping two accounts'
/// rows (and so all their data) fails authentication.
pub(crate) fn decode_account(
    codec: &ValueCodec,
    account: &str,
    bytes: &[u8],
) -> Result<AccountRecord> {
    codec.decode(bytes, "accounts", 0, account.as_bytes())
}
