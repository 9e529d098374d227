"""Telethon 2's ``session.Storage`` on a sessiondb account.

Telethon 2 is not on PyPI; its documentation defines ``Session(dcs, user, state)`` with
``DataCenter(id, ipv4_addr, ipv6_addr, auth)``, ``User(id, dc, bot, username)``,
``UpdateState(pts, qts, date, seq, channels)`` and ``ChannelState(id, pts)``. Where Telethon 2
is installed its classes are used (and ``Storage`` subclasses its ABC); elsewhere the plain
classes below, with the same fields, stand in.
"""

import dataclasses
from typing import List, Optional

from . import _native
from ._ack import acknowledged

try:  # Telethon 2
    from telethon.session import ChannelState, DataCenter, Session, UpdateState, User
    from telethon.session import Storage as _StorageBase
except ImportError:
    _StorageBase = object

    @dataclasses.dataclass
    class DataCenter:
        id: int
        ipv4_addr: Optional[str] = None
        ipv6_addr: Optional[str] = None
        auth: Optional[bytes] = None

    @dataclasses.dataclass
    class User:
        id: int
        dc: int
        bot: bool
        username: Optional[str] = None

    @dataclasses.dataclass
    class ChannelState:
        id: int
        pts: int

    @dataclasses.dataclass
    class UpdateState:
        pts: int
        qts: int
        date: int
        seq: int
        channels: List[ChannelState] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass
    class Session:
        dcs: List[DataCenter] = dataclasses.field(default_factory=list)
        user: Optional[User] = None
        state: Optional[UpdateState] = None


class Storage(_StorageBase):
    """``Storage("bot")`` keeps Telethon 2's session in ``./bot.session/``; ``store=`` shares
    an open ``sessiondb.Store`` (``account=`` names the account)."""

    def __init__(self, path=None, *, account=_native.DEFAULT_ACCOUNT, passphrase=None,
                 store=None):
        self._path = path
        self._passphrase = passphrase
        self._owns_store = store is None
        self._store = store
        self._name = account
        self._account = None

    def _acct(self):
        """The account; a store this storage opened from a path opens again after close()."""
        if self._account is None:
            if self._store is None:
                self._store = (_native.Store(self._path, self._passphrase) if self._path
                               else _native.Store.memory())
            self._account = self._store.account(self._name)
        return self._account

    async def load(self):
        """The stored session, or None for an account never saved."""
        home, dcs, user, state, channels, _takeout = self._acct().snapshot()
        if not dcs and user is None and state is None and not channels:
            return None
        session = Session(
            dcs=[DataCenter(id=d[0], ipv4_addr=d[1], ipv6_addr=d[2], auth=d[3]) for d in dcs],
            user=User(id=user[0], dc=user[1], bot=user[2], username=user[3]) if user else None,
            state=None,
        )
        if state is not None or channels:
            pts, qts, date, seq = state or (0, 0, 0, 0)
            session.state = UpdateState(
                pts=pts, qts=qts, date=date, seq=seq,
                channels=[ChannelState(id=c, pts=p) for c, p in channels.items()])
        return session

    async def save(self, session):
        """Makes the stored session equal to ``session``, in one durable batch."""
        dcs = [(d.id, d.ipv4_addr, d.ipv6_addr, d.auth) for d in (session.dcs or [])]
        user = session.user
        home = user.dc if user is not None else None
        state = session.state
        common = (state.pts, state.qts, state.date, state.seq) if state is not None else None
        channels = {c.id: c.pts for c in state.channels} if state is not None else {}
        user_row = (user.id, user.dc, user.bot, user.username) if user is not None else None
        await acknowledged(self._acct().save(home, dcs, user_row, common, channels))

    async def delete(self):
        """Deletes the account and everything under it."""
        self._acct()
        await acknowledged(self._store.delete_account(self._name))

    async def close(self):
        """Closes a store this storage opened from a path (it opens again on the next call);
        a shared or in-memory one is only flushed."""
        if self._store is None:
            return
        if not (self._owns_store and self._path):
            await acknowledged(self._store.flush())
            return
        store, self._store, self._account = self._store, None, None
        await acknowledged(store.close())

