//! The schema, as numbered migrations recorded in `sessiondb_migrations`. Each applies in
//! one transaction that first claims its number: a worker that loses the race to another
//! migrating at the same moment waits on that row, finds it taken and rolls back.

use super::connection::server;
use crate::error::Result;

/// Version 1: every part of a session in normal tables, keyed by account name.
const V1: &str = "
CREATE TABLE sessiondb_leases (
    account TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    token BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE sessiondb_sessions (
    account TEXT PRIMARY KEY,
    home_dc INT,
    self_peer BIGINT
);
CREATE TABLE sessiondb_users (
    account TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    dc INT NOT NULL,
    bot BOOLEAN NOT NULL,
    username TEXT
);
CREATE TABLE sessiondb_dcs (
    account TEXT NOT NULL,
    dc_id INT NOT NULL,
    ipv4 TEXT,
    ipv6 TEXT,
    auth_key BYTEA,
    server_salt BIGINT NOT NULL,
    time_offset INT NOT NULL,
    flags INT NOT NULL,
    PRIMARY KEY (account, dc_id)
);
CREATE TABLE sessiondb_update_state (
    account TEXT PRIMARY KEY,
    pts INT NOT NULL,
    qts INT NOT NULL,
    date INT NOT NULL,
    seq INT NOT NULL
);
CREATE TABLE sessiondb_channel_pts (
    account TEXT NOT NULL,
    channel_id BIGINT NOT NULL,
    pts INT NOT NULL,
    PRIMARY KEY (account, channel_id)
);
CREATE TABLE sessiondb_app_fields (
    account TEXT PRIMARY KEY,
    api_id INT,
    test_mode BOOLEAN NOT NULL,
    takeout_id BIGINT,
    created_at BIGINT,
    custom BYTEA
);
CREATE TABLE sessiondb_peers (
    account TEXT NOT NULL,
    id BIGINT NOT NULL,
    kind SMALLINT NOT NULL,
    access_hash BIGINT,
    min BOOLEAN NOT NULL,
    phone TEXT,
    name TEXT,
    is_self BOOLEAN,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account, id)
);
CREATE INDEX sessiondb_peers_by_phone ON sessiondb_peers (account, phone);
CREATE TABLE sessiondb_peer_usernames (
    account TEXT NOT NULL,
    username TEXT NOT NULL,
    id BIGINT NOT NULL,
    pos SMALLINT NOT NULL,
    PRIMARY KEY (account, username)
);
CREATE INDEX sessiondb_peer_usernames_by_id ON sessiondb_peer_usernames (account, id);
";

/// Version 2: no planner statistics on the account column of the two big tables. An account
/// that just grew (an import, a new bot) is missing from the statistics and estimated at one
/// row, so a scan of its whole key range looks cheaper than probing by phone or username:
/// per batch, which makes ingest quadratic in the account's size (seen: a lookup running for
/// minutes). Without statistics the planner assumes the same small fraction of rows for
/// every account and probes the key.
const V2: &str = "
ALTER TABLE sessiondb_peers ALTER COLUMN account SET STATISTICS 0;
ALTER TABLE sessiondb_peer_usernames ALTER COLUMN account SET STATISTICS 0;
";

/// Version 3: min-peer contexts, login tokens and DC endpoints (ferogram's account data).
const V3: &str = "
CREATE TABLE sessiondb_min_peers (
    account TEXT NOT NULL,
    user_id BIGINT NOT NULL,
    peer_id BIGINT NOT NULL,
    msg_id INT NOT NULL,
    PRIMARY KEY (account, user_id)
);
CREATE TABLE sessiondb_login_tokens (
    account TEXT PRIMARY KEY,
    token BYTEA NOT NULL
);
CREATE TABLE sessiondb_dc_endpoints (
    account TEXT NOT NULL,
    pos INT NOT NULL,
    dc_id INT NOT NULL,
    address TEXT NOT NULL,
    flags INT NOT NULL,
    auth_key BYTEA,
    server_salt BIGINT NOT NULL,
    time_offset INT NOT NULL,
    PRIMARY KEY (account, pos)
);
";

const MIGRATIONS: &[(i32, &str)] = &[(1, V1), (2, V2), (3, V3)];

/// Applies every migration the database has not recorded yet.
pub(super) async fn migrate(client: &mut tokio_postgres::Client) -> Result<()> {
    // Two workers creating this table at once can collide in the catalog: once more.
    let create = "CREATE TABLE IF NOT EXISTS sessiondb_migrations (\
                  version INT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())";
    if client.batch_execute(create).await.is_err() {
        client.batch_execute(create).await.map_err(server)?;
    }
    for (version, sql) in MIGRATIONS {
        let txn = client.transaction().await.map_err(server)?;
        let claimed = txn
            .query_opt(
                "INSERT INTO sessiondb_migrations (version) VALUES ($1) \
                 ON CONFLICT (version) DO NOTHING RETURNING version",
                &[version],
            )
            .await
            .map_err(server)?;
        if claimed.is_some() {
            txn.batch_execute(sql).await.map_err(server)?;
            txn.commit().await.map_err(server)?;
        }
    }
    Ok(())
}
