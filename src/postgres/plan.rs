//! Writes as plans: statements with owned parameters, built (and validated) when a write is
//! called, run later inside a shared transaction. A plan's statements are prepared once per
//! connection and then pipelined: all are sent before the first answer is awaited, in
//! order, so a batch of many writes costs about one round trip, not one per statement.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::Poll;

use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Statement};

use super::server;
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
    pub async fn get<C: GenericClient + Sync>(
        &self,
        client: &C,
        sql: &'static str,
    ) -> Result<Statement> {
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

/// Runs `steps` in `txn`, pipelined, after preparing any statement not yet prepared.
pub(super) async fn run(
    txn: &tokio_postgres::Transaction<'_>,
    prepared: &Prepared,
    steps: &[&Step],
) -> Result<()> {
    let mut statements = Vec::with_capacity(steps.len());
    for s in steps {
        statements.push(prepared.get(txn, s.sql).await?);
    }
    let futures: Vec<_> = steps
        .iter()
        .zip(&statements)
        .map(|(s, st)| {
            Box::pin(async move {
                let params: Vec<&(dyn ToSql + Sync)> = s
                    .params
                    .iter()
                    .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                    .collect();
                txn.execute(st, &params).await
            })
        })
        .collect();
    in_order(futures).await.map_err(server)
}

/// Polls every future in index order until all are done; the first error (in index order)
/// wins. tokio-postgres sends a request when its future is first polled, so the server gets
/// the statements in this order.
async fn in_order<F, T, E>(mut futures: Vec<Pin<Box<F>>>) -> std::result::Result<(), E>
where
    F: Future<Output = std::result::Result<T, E>>,
{
    let mut results: Vec<Option<std::result::Result<T, E>>> =
        futures.iter().map(|_| None).collect();
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
    for r in results.into_iter().flatten() {
        r?;
    }
    Ok(())
}
