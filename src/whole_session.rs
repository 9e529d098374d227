//! A whole session: read from a view (`session_of`, what `load` and a backup read) and
//! written as one batch that makes an account's session exactly the given one (`save_ops`).

use crate::error::{Error, Result};
use crate::model::{Session, UpdateStateChange};
use crate::state::op::Op;
use crate::state::view::View;

/// The session of `account` as the view sees it, `None` if the account does not exist.
pub(crate) fn session_of(view: &View<'_>, account: &str) -> Result<Option<Session>> {
    if !view.account_exists(account)? {
        return Ok(None);
    }
    Ok(Some(Session {
        home_dc: view.home_dc(account)?,
        dcs: view.dcs(account)?.into_values().collect(),
        user: view.user(account)?,
        update_state: view.update_state(account)?,
        channels: view.channels(account)?,
        app: view.app(account)?.unwrap_or_default(),
    }))
}

/// Checks what every backend's `save` refuses: bad app fields, a DC listed twice, a bad
/// username. Returns the DC ids.
pub(crate) fn check(session: &Session) -> Result<Vec<i32>> {
    session.app.validate()?;
    let mut ids = Vec::with_capacity(session.dcs.len());
    for dc in &session.dcs {
        if ids.contains(&dc.id) {
            return Err(Error::InvalidArgument(format!(
                "DC {} appears twice",
                dc.id
            )));
        }
        ids.push(dc.id);
    }
    if let Some(name) = session.user.as_ref().and_then(|u| u.username.as_deref()) {
        crate::model::normalize_stored_username(name)?;
    }
    Ok(ids)
}

/// The ops that replace `account`'s DCs, user, update state, channel pts and app fields with
/// `session`'s, as one batch: DCs and channels it lacks are removed when the batch is
/// applied, so nothing written just before survives the replace.
pub(crate) fn save_ops(account: &str, session: &Session) -> Result<Vec<Op>> {
    let ids = check(session)?;
    let acc = || account.to_owned();
    let mut ops = vec![
        Op::CreateAccount { account: acc() },
        Op::SetHomeDc {
            account: acc(),
            dc: session.home_dc,
        },
        Op::KeepDcs {
            account: acc(),
            keep: ids,
        },
    ];
    for dc in &session.dcs {
        ops.push(Op::SetDc {
            account: acc(),
            dc: dc.clone(),
        });
    }
    ops.push(Op::SetUser {
        account: acc(),
        user: session.user.clone(),
    });
    ops.push(Op::SetUpdateState {
        account: acc(),
        state: session.update_state,
    });
    let keep = session.channels.keys().copied().collect();
    ops.push(Op::KeepChannels {
        account: acc(),
        keep,
    });
    for (&id, &pts) in &session.channels {
        let change = UpdateStateChange::Channel { id, pts };
        ops.push(Op::UpdateState {
            account: acc(),
            change,
        });
    }
    ops.push(Op::SetAppFields {
        account: acc(),
        app: session.app.clone(),
    });
    Ok(ops)
}
