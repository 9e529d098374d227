//! Writes as plans: statements with owned parameters, built (and validated) when a write is
//! called, run later inside a shared transaction. A plan's statements are prepared once per
//! connection and then pipelined with the transaction's `BEGIN` and lease check: all are
//! sent before the first answer is awaited, in order, so a transaction of many writes costs
//! two round trips (that pipeline, then `COMMIT`), not one per statement.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::Poll;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

use super::connection::server;
use crate::error::Result;

/// One owned statement parameter.
pub(super) type Param = Box<dyn ToSql + Sync + Send>;

/// One statement of a plan.
pub(super) struct Step {
    pub sql: &'static str,
    pub params: Vec<Param>,
}

/// Statements to run in order inside one transaction.
#[derive(Default)]
pub(super) struct Plan(pub Vec<Step>);

impl Plan {
    pub fn push(&mut self, sql: &'static str, params: Vec<Param>) {
        self.0.push(Step { sql, params });
    }
}

/// Boxes statement parameters: `params![a, b]`.
macro_rules! params {
    ($($p:expr),* $(,)?) => {
        vec![$(Box::new($p) as $crate::postgres::plan::Param),*]
    };
}
pub(super) use params;

/// A connection's prepared statements, by SQL text.
#[derive(Default)]
pub(super) struct Prepared(Mutex<HashMap<&'static str, Statement>>);

impl Prepared {
    fn cached(&self, sql: &'static str) -> Option<Statement> {
        self.0.lock().ok().and_then(|m| m.get(sql).cloned())
    }

    /// The statement for `sql` on `client`, prepared on first use.
    pub async fn get(&self, client: &Client, sql: &'static str) -> Result<Statement> {
        if let Some(s) = self.cached(sql) {
            return Ok(s);
        }
        let s = client.prepare(sql).await.map_err(server)?;
        if let Ok(mut m) = self.0.lock() {
            m.insert(sql, s.clone());
        }
        Ok(s)
    }
}

type ServerResult<T> = std::result::Result<T, tokio_postgres::Error>;
type Reply<'a> = Pin<Box<dyn Future<Output = ServerResult<Vec<Row>>> + Send + 'a>>;

/// Opens a transaction, locks and reads the rows of `fence`, and runs `steps`, all in one
/// pipeline: one round trip, plus one to prepare statements on their first use. Returns
/// the fence's rows with the transaction still open for the caller to commit or roll back
/// (on an error it is rolled back here).
pub(super) async fn begin_fenced(
    client: &Client,
    prepared: &Prepared,
    fence: &'static str,
    fence_params: &[&(dyn ToSql + Sync)],
    steps: &[&Step],
) -> Result<Vec<Row>> {
    let fence = prepared.get(client, fence).await?;
    let mut statements = Vec::with_capacity(steps.len());
    for s in steps {
        statements.push(prepared.get(client, s.sql).await?);
    }
    let mut replies: Vec<Reply<'_>> = vec![
        Box::pin(async move { client.batch_execute("BEGIN").await.map(|()| Vec::new()) }),
        Box::pin(client.query(&fence, fence_params)),
    ];
    for (s, st) in steps.iter().zip(&statements) {
        replies.push(Box::pin(async move {
            let params: Vec<&(dyn ToSql + Sync)> = s
                .params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            client.execute(st, &params).await.map(|_| Vec::new())
        }));
    }
    match in_order(replies).await {
        Ok(mut rows) => Ok(rows.swap_remove(1)),
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(server(e))
        }
    }
}

/// Ends the transaction `begin_fenced` opened.
pub(super) async fn end(client: &Client, commit: bool) -> Result<()> {
    let sql = if commit { "COMMIT" } else { "ROLLBACK" };
    client.batch_execute(sql).await.map_err(server)
}

/// Polls every future in index order until all are done; the first error (in index order)
/// wins. tokio-postgres sends a request when its future is first polled, so the server gets
/// the statements in this order.
async fn in_order(mut futures: Vec<Reply<'_>>) -> ServerResult<Vec<Vec<Row>>> {
    let mut results: Vec<Option<ServerResult<Vec<Row>>>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futures.iter_mut().zip(results.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(r) => *slot = Some(r),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    results.into_iter().flatten().collect()
}
