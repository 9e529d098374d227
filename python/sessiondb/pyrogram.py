"""sessiondb as the storage of the Pyrogram forks that take one: Kurigram 2.2
(``Client(..., storage_engine=Storage("bot"))``) and Pyrofork 2.3
(``Client(..., storage=Storage("bot"))``). Both install the package ``pyrogram``; this class
subclasses the installed fork's ``pyrogram.storage.Storage`` and answers both interfaces.

Every accessor write and update state is durable when the awaited call returns; peers follow
the store's peer durability (synced by the next durable write or ``save()``). The session row
(DC, address, key, api_id, test mode, date, user) is held in memory as the forks' SQLite row
is, loaded at ``open()`` and written through.
"""

import asyncio
import os
import time

from pyrogram import raw, utils
from pyrogram.storage import Storage as _ForkStorage

from . import _native
from ._ack import acknowledged
from ._addresses import address, endpoint
from .errors import InvalidArgumentError

try:  # Kurigram
    from pyrogram.storage.storage import UpdateState
except ImportError:  # Pyrofork: update states are plain tuples
    UpdateState = None

# What a fresh fork session holds before its client writes anything (Kurigram's row also has
# DC 2's address; Pyrofork's has none).
_FRESH_ADDRESS = ("149.154.167.51", 443) if UpdateState is not None else (None, None)
# Which of pts, qts, date, seq of the common state the fork left unset (None), as one custom app
# value, so that they read back as None after a reopen.
_UNSET_KEY = "pyrogram-state-unset"
# is_bot where the user cannot hold it (no user id yet, or a user whose kind is unset):
# b"\x00"/b"\x01", or b"\x02" for None.
_IS_BOT_KEY = "pyrogram-is-bot"
_USERNAME_TTL = 8 * 60 * 60

_KINDS = {"user": "user", "bot": "bot", "group": "group", "channel": "channel",
          "supergroup": "megagroup", "forum": "megagroup", "direct": "channel_unknown",
          "community": "community"}


def _input_peer(peer):
    """The InputPeer the forks build from a row (id, kind, hash, ...)."""
    peer_id, kind, access_hash = peer[0], peer[1], peer[2]
    if kind in ("user", "bot", "user_unknown"):
        return raw.types.InputPeerUser(user_id=peer_id, access_hash=access_hash)
    if kind == "group":
        return raw.types.InputPeerChat(chat_id=-peer_id)
    return raw.types.InputPeerChannel(channel_id=utils.get_channel_id(peer_id),
                                      access_hash=access_hash)


class Storage(_ForkStorage):
    """``Storage("bot")`` keeps the session in ``./bot.session/`` (``workdir=`` moves it);
    ``store=`` shares an open ``sessiondb.Store``, one account per client (``account=``,
    by default the name); ``passphrase=`` opens or creates an encrypted store. Session strings
    and in-memory clients stay with the forks' own storage (Kurigram ignores a storage engine
    for them; Pyrofork ignores the string): import a string with the CLI instead."""

    def __init__(self, name, *, workdir=".", account=None, passphrase=None, store=None):
        self.name = name
        self._path = os.path.join(os.fspath(workdir), name) if store is None else None
        self._passphrase = passphrase
        self._owns_store = store is None
        self._store = store
        if account is None:
            account = _native.DEFAULT_ACCOUNT if store is None else name
        self._account_name = account
        self._account = None
        self._row = None
        self._state = None

    # ---- life cycle ----------------------------------------------------------------------

    async def open(self):
        if self._store is None:
            # Creating or recovering a store syncs the disk: off the event loop.
            self._store = await asyncio.get_running_loop().run_in_executor(
                None, _native.Store, self._path, self._passphrase)
        self._account = self._store.account(self._account_name)
        home, dcs, user, state, _channels, _takeout = self._account.snapshot()
        app = self._account.app_fields()
        fresh = home is None and not dcs and user is None and app[0] is None
        dc = next((d for d in dcs if d[0] == home), None)
        host, port = address(dc[1], dc[2]) if dc else (None, None)
        if fresh:
            host, port = _FRESH_ADDRESS
        self._row = {
            "dc_id": home if home is not None else 2,
            "server_address": host,
            "port": port,
            "api_id": app[0],
            "test_mode": None if fresh else app[1],
            "auth_key": dc[3] if dc else None,
            "date": app[3] or 0,
            "user_id": user[0] if user else None,
            "is_bot": user[2] if user else None,
        }
        is_bot = app[4].get(_IS_BOT_KEY)
        if is_bot:
            self._row["is_bot"] = None if is_bot[0] == 2 else bool(is_bot[0])
        self._app = app
        unset = app[4].get(_UNSET_KEY, b"\x00")[0]
        self._state = None
        if state is not None:
            self._state = [None if unset & bit else v for bit, v in zip((8, 1, 2, 4), state)]

    async def save(self):
        await self.date(int(time.time()))
        await acknowledged(self._store.flush())

    async def close(self):
        if self._store is None:
            return
        store = self._store
        self._account = None
        if self._owns_store:
            self._store = None
            await acknowledged(store.close())
        else:
            await acknowledged(store.flush())

    async def delete(self):
        """Deletes the account (the log-out; the forks call it after ``stop()`` closed the
        storage, so a closed store is opened for it). The store's directory stays."""
        store = self._store
        if store is None:
            store = await asyncio.get_running_loop().run_in_executor(
                None, _native.Store, self._path, self._passphrase)
        try:
            await acknowledged(store.delete_account(self._account_name))
        finally:
            if self._store is None:
                await acknowledged(store.close())
        self._account = None
        self._row = self._state = self._app = None

    # ---- the session row -----------------------------------------------------------------

    async def _dc(self, remove_others=False):
        row = self._row
        # An address without its port is not stored (the forks set the two one after the other).
        host = row["server_address"] if row["port"] is not None else None
        ipv4, ipv6 = endpoint(host, row["port"])
        account = self._account
        acks = [account.set_dc(row["dc_id"], ipv4, ipv6, row["auth_key"]),
                account.set_home_dc(row["dc_id"])]
        if remove_others:
            acks += [account.remove_dc(d) for d in account.dc_ids() if d != row["dc_id"]]
        await acknowledged(*acks)

    async def _app_write(self):
        row, app = self._row, self._app
        custom = dict(app[4])
        self._app = (row["api_id"], bool(row["test_mode"]), app[2], row["date"], custom)
        await acknowledged(self._account.set_app_fields(*self._app))

    def _custom(self, key, value):
        """The write that sets (or, with None, removes) one custom app value; None if it is
        already so."""
        custom = self._app[4]
        if custom.get(key) == value:
            return None
        custom = {k: v for k, v in custom.items() if k != key}
        if value is not None:
            custom[key] = value
        self._app = self._app[:4] + (custom,)
        return self._account.set_app_fields(*self._app)

    async def _user(self):
        row = self._row
        if row["user_id"] is None:
            acks = [self._account.clear_user()]
        else:
            acks = [self._account.set_user(row["user_id"], row["dc_id"], bool(row["is_bot"]),
                                           None)]
        held_by_user = row["user_id"] is not None and row["is_bot"] is not None
        is_bot = None if held_by_user else bytes([2 if row["is_bot"] is None else row["is_bot"]])
        acks.append(self._custom(_IS_BOT_KEY, is_bot))
        await acknowledged(*acks)

    async def _field(self, name, value, write):
        if value is object:
            return self._row[name]
        old = self._row[name]
        self._row[name] = value
        try:
            await write()
        except BaseException:
            self._row[name] = old  # refused: memory keeps what the store has
            raise

    async def dc_id(self, value=object):
        # The key and address stay with the row, as in the forks' own file.
        return await self._field("dc_id", value, lambda: self._dc(remove_others=True))

    async def server_address(self, value=object):
        return await self._field("server_address", value, self._dc)

    async def port(self, value=object):
        return await self._field("port", value, self._dc)

    async def auth_key(self, value=object):
        return await self._field("auth_key", value, self._dc)

    async def api_id(self, value=object):
        return await self._field("api_id", value, self._app_write)

    async def test_mode(self, value=object):
        return await self._field("test_mode", value, self._app_write)

    async def date(self, value=object):
        return await self._field("date", value, self._app_write)

    async def user_id(self, value=object):
        return await self._field("user_id", value, self._user)

    async def is_bot(self, value=object):
        return await self._field("is_bot", value, self._user)

    # ---- peers ---------------------------------------------------------------------------

    async def update_peers(self, peers):
        """Kurigram: (id, access_hash, type, phone); Pyrofork: (id, access_hash, type,
        username, phone). A peer keeps the usernames ``update_usernames`` gave it."""
        rows = []
        for peer in peers:
            if len(peer) == 5:
                peer_id, access_hash, kind, username, phone = peer
            else:
                (peer_id, access_hash, kind, phone), username = peer, None
            old = self._account.peer(peer_id)
            names = list(old[4]) if old else []
            if len(peer) == 5:  # Pyrofork's row names the main username: first in ours
                names = ([username] if username else []) + [n for n in names[1:] if n != username]
            ours = _KINDS.get(kind, "channel_unknown")
            rows.append((peer_id, ours, None if ours == "group" else access_hash, names, phone,
                         None, None))
        if rows:
            await acknowledged(self._account.cache_peers(rows))

    async def update_usernames(self, usernames):
        """Kurigram: (id, [usernames]); Pyrofork: (id, username) pairs, every username of a
        peer with several."""
        by_id = {}
        for peer_id, names in usernames:
            given = [names] if isinstance(names, str) or names is None else list(names)
            by_id.setdefault(peer_id, []).extend(n for n in given if n)
        rows = []
        for peer_id, names in by_id.items():
            old = self._account.peer(peer_id)
            if old is None:
                continue  # the forks join usernames to peers: no peer, no answer
            if UpdateState is None and old[4]:  # Pyrofork: the main username stays first
                names = [old[4][0]] + [n for n in names if n != old[4][0]]
            rows.append((peer_id, old[1], old[2], names, old[5], old[6], old[7]))
        if rows:
            await acknowledged(self._account.cache_peers(rows))

    async def get_peer_by_id(self, peer_id):
        if isinstance(peer_id, str):  # the forks' SQLite matches "-100…" to the number
            try:
                peer_id = int(peer_id.strip())
            except ValueError:
                peer_id = None
        peer = self._account.peer(peer_id) if isinstance(peer_id, int) else None
        if peer is None:
            raise KeyError(f"ID not found: {peer_id}")
        return _input_peer(peer)

    def _lookup(self, find, key, what):
        """The peer ``find(key)`` gives, or the forks' KeyError (text that is not a username
        or phone is a miss, as in their tables)."""
        try:
            peer = find(key) if isinstance(key, str) else None
        except InvalidArgumentError:
            peer = None
        if peer is None:
            raise KeyError(f"{what} not found: {key}")
        return peer

    async def get_peer_by_username(self, username):
        peer = self._lookup(self._account.peer_by_username, username, "Username")
        if abs(time.time() - peer[8]) > _USERNAME_TTL:
            raise KeyError(f"Username expired: {username}")
        return _input_peer(peer)

    async def get_peer_by_phone_number(self, phone_number):
        return _input_peer(self._lookup(self._account.peer_by_phone, phone_number,
                                        "Phone number"))

    # ---- update state --------------------------------------------------------------------

    def _states(self):
        """Every state as (id, pts, qts, date, seq): channels first (their date is not
        kept, like an unset one), then the common state, as the forks order them by date."""
        out = [(utils.get_channel_id(c), pts, None, None, None)
               for c, pts in sorted(self._account.channels().items(), reverse=True)]
        if self._state is not None:
            out.append((0, *self._state))
        return out

    async def _set_state(self, state_id, pts, qts, date, seq, replace):
        if state_id != 0:
            if pts is not None:
                await acknowledged(self._account.set_channel_pts(utils.get_channel_id(state_id), pts))
            return
        new = [pts, qts, date, seq]
        if not replace and self._state is not None:  # Kurigram keeps what it is not given
            new = [n if n is not None else o for n, o in zip(new, self._state)]
        self._state = new
        unset = sum(bit for bit, v in zip((8, 1, 2, 4), new) if v is None)
        await acknowledged(self._account.set_update_state(*(v or 0 for v in new)),
                           self._custom(_UNSET_KEY, bytes([unset]) if unset else None))

    async def _delete_state(self, state_id):
        if state_id == 0:
            self._state = None
            await acknowledged(self._account.clear_update_state())
        elif isinstance(state_id, int) and state_id < 0:
            await acknowledged(self._account.remove_channel(utils.get_channel_id(state_id)))

    # Kurigram
    async def get_update_states(self, ids=None):
        states = self._states()
        if ids is not None:
            wanted = {ids} if isinstance(ids, int) else set(ids)
            states = [s for s in states if s[0] in wanted]
        return [UpdateState(*s) for s in states]

    async def set_update_state(self, update_state):
        states = [update_state] if isinstance(update_state, UpdateState) else update_state
        for s in states:
            await self._set_state(s.id, s.pts, s.qts, s.date, s.seq, replace=False)

    async def delete_update_state(self, state_id):
        for i in [state_id] if isinstance(state_id, int) else list(state_id):
            await self._delete_state(i)

    # Pyrofork
    async def update_state(self, value=object):
        if value is object:
            return self._states()
        if isinstance(value, int):
            await self._delete_state(value)
        else:
            await self._set_state(*value, replace=True)

    async def remove_state(self, chat_id):
        await self._delete_state(chat_id)
