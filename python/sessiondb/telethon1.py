"""sessiondb as Telethon 1.x's session (``telethon.sessions.abstract.Session``)::

      client = TelegramClient(sessiondb.telethon.Session("bot"), api_id, api_hash)

  Update state and DC/auth-key changes are durable when acknowledged; entities follow the
  store's peer durability (buffered: synced with the next durable write or ``save()``).
  Inside an event loop the writes Telethon awaits return awaitables, so the loop never blocks
  on a disk sync; the ``auth_key`` and ``takeout_id`` setters, synchronous in Telethon, block
  for one group commit with the GIL released.
"""

import datetime
import os

from telethon import types, utils
from telethon.crypto import AuthKey
from telethon.sessions import MemorySession

from . import _native
from ._ack import settle, settle_all
from ._addresses import address, endpoint
from .errors import InvalidArgumentError

_UTC = datetime.timezone.utc
# Channels keep only their pts; Telethon's client passes "any datetime" for them.
_CHANNEL_DATE = datetime.datetime.fromtimestamp(0, tz=_UTC)


def _kind(entity, marked_id):
    """The peer kind sessiondb stores for a Telethon entity."""
    if isinstance(entity, types.User):
        return "bot" if entity.bot else "user"
    if isinstance(entity, (types.Chat, types.ChatForbidden)):
        return "group"
    if isinstance(entity, (types.Community, types.CommunityForbidden)):
        return "community"
    if isinstance(entity, (types.Channel, types.ChannelForbidden)):
        if getattr(entity, "gigagroup", False):
            return "gigagroup"
        if getattr(entity, "megagroup", False):
            return "megagroup"
        if getattr(entity, "broadcast", False):
            return "channel"
        return "channel_unknown"
    # An input peer: only its id's mark says what it is.
    peer_type = utils.resolve_id(marked_id)[1]
    if peer_type is types.PeerUser:
        return "user_unknown"
    if peer_type is types.PeerChat:
        return "group"
    return "channel_unknown"


def _seconds(date):
    if isinstance(date, datetime.datetime):
        return int(date.timestamp())
    return int(date or 0)


def _input_row(peer):
    """(marked id, hash) as Telethon's entity lookups return them (0 for a chat's hash)."""
    if peer is None:
        return None
    return peer[0], peer[2] or 0


class Session(MemorySession):
    """Telethon 1.x's session on a sessiondb account.

    ``Session("bot")`` opens (or creates) ``./bot.session/``; ``Session()`` keeps everything
    in memory (Telethon makes such copies for other DCs with ``clone()``). ``store=`` shares
    an open ``sessiondb.Store`` (one account per client: ``account=``); ``passphrase=``
    opens or creates an encrypted store. Cached files (``cache_file``) stay in memory, as
    Telethon no longer calls them.
    """

    def __init__(self, session_id=None, *, account=_native.DEFAULT_ACCOUNT, passphrase=None,
                 store=None):
        super().__init__()
        self.save_entities = True
        self._path = session_id
        self._passphrase = passphrase
        self._account_name = account
        self._owns_store = store is None
        self._store = store
        self._account = None
        self._load()

    # ---- the account, opened again after close() ----------------------------------------

    def _acct(self):
        if self._account is None:
            if self._store is None:
                if self._path:
                    self._store = _native.Store(os.fspath(self._path), self._passphrase)
                else:
                    self._store = _native.Store.memory()
            self._account = self._store.account(self._account_name)
        return self._account

    def _load(self):
        home, dcs, _user, _state, _channels, takeout_id = self._acct().snapshot()
        dc = next((d for d in dcs if d[0] == home), None)
        self._dc_id = home or 0
        self._server_address, self._port = address(dc[1], dc[2]) if dc else (None, None)
        self._auth_key = AuthKey(data=dc[3]) if dc and dc[3] else None
        self._takeout_id = takeout_id

    def _write_dc(self):
        ipv4, ipv6 = endpoint(self._server_address, self._port)
        key = self._auth_key.key if self._auth_key else None
        return self._acct().set_dc(self._dc_id, ipv4, ipv6, key)

    def clone(self, to_instance=None):
        cloned = super().clone(to_instance)
        cloned.save_entities = self.save_entities
        return cloned

    # ---- DC and auth key ------------------------------------------------------------------

    def set_dc(self, dc_id, server_address, port):
        """Moves the session to another DC, keeping its auth key as Telethon's own file does
        (the client clears it itself when it migrates). Old DCs are removed after the new one
        is home, so a crash between the writes leaves a usable session. An address that is
        not an IP address is refused before anything changes."""
        account = self._acct()
        ipv4, ipv6 = endpoint(server_address, port)
        key = self._auth_key.key if self._auth_key else None
        acks = [account.set_dc(dc_id or 0, ipv4, ipv6, key)]  # validates, then queues
        super().set_dc(dc_id, server_address, port)
        acks.append(account.set_home_dc(self._dc_id))
        acks += [account.remove_dc(d) for d in account.dc_ids() if d != self._dc_id]
        if self._auth_key:
            self._auth_key = AuthKey(data=self._auth_key.key)
        return settle_all(acks)

    @MemorySession.auth_key.setter
    def auth_key(self, value):
        self._auth_key = value
        self._write_dc().wait()

    @MemorySession.takeout_id.setter
    def takeout_id(self, value):
        self._takeout_id = value
        self._acct().set_takeout_id(value).wait()

    # ---- update state ---------------------------------------------------------------------

    def get_update_state(self, entity_id):
        if entity_id == 0:
            state = self._acct().update_state()
            if state is None:
                return None
            pts, qts, date, seq = state
            return types.updates.State(pts, qts, datetime.datetime.fromtimestamp(date, tz=_UTC),
                                       seq, unread_count=0)
        pts = self._acct().channel_pts(entity_id)
        if pts is None:
            return None
        return types.updates.State(pts, 0, _CHANNEL_DATE, 0, unread_count=0)

    def set_update_state(self, entity_id, state):
        if entity_id == 0:
            ack = self._acct().set_update_state(state.pts, state.qts, _seconds(state.date),
                                                state.seq)
        else:
            ack = self._acct().set_channel_pts(entity_id, state.pts)
        return settle(ack)

    def get_update_states(self):
        states = []
        common = self.get_update_state(0)
        if common is not None:
            states.append((0, common))
        for channel_id, pts in self._acct().channels().items():
            states.append((channel_id, types.updates.State(pts, 0, _CHANNEL_DATE, 0,
                                                           unread_count=0)))
        return states

    # ---- life cycle -----------------------------------------------------------------------

    def save(self):
        """Syncs the buffered entities (everything else is durable already)."""
        return settle(self._acct_store().flush())

    def _acct_store(self):
        self._acct()
        return self._store

    def close(self):
        """Closes a store this session opened from a path (it opens again on the next call);
        a shared or in-memory store is only flushed (memory would be gone)."""
        if self._store is None:
            return None
        store = self._store
        if not (self._owns_store and self._path):
            return settle(store.flush())
        self._store = None
        self._account = None
        return settle(store.close())

    def delete(self):
        """Deletes the account and everything stored under it (the log-out), then closes a
        store this session opened from a path. The store's directory stays."""
        store = self._acct_store()
        acks = [store.delete_account(self._account_name)]
        if self._owns_store and self._path:
            acks.append(store.close())
            self._store = None
            self._account = None
        return settle_all(acks)

    @classmethod
    def list_sessions(cls):
        """The sessiondb stores in the current directory, by name (as Telethon lists its
        ``.session`` files)."""
        return [name[:-len(".session")] for name in os.listdir(".")
                if name.endswith(".session") and os.path.isfile(os.path.join(name, "LOCK"))]

    # ---- entities -------------------------------------------------------------------------

    def _entity_to_row(self, e):
        # Users and channels, most of any batch, directly; anything else through Telethon's
        # own row (the conformance test holds the two to the same answers).
        kind = type(e)
        if kind is types.User:
            if e.access_hash is None or e.min:
                return None  # Telethon caches neither: the hash is not usable everywhere
            first, last = e.first_name, e.last_name
            name = "{} {}".format(first, last) if first and last else first or last or None
            return (e.id, "bot" if e.bot else "user", e.access_hash or None,
                    e.username.lower() if e.username else None, e.phone, name, e.is_self)
        if kind is types.Channel:
            if e.access_hash is None or e.min:
                return None
            marked_id = utils.get_peer_id(types.PeerChannel(e.id))
            return (marked_id, _kind(e, marked_id), e.access_hash or None,
                    e.username.lower() if e.username else None, None, e.title or None, None)
        row = super()._entity_to_row(e)
        if row is None:
            return None
        marked_id, access_hash, username, phone, name = row
        return (marked_id, _kind(e, marked_id), access_hash or None, username, phone, name, None)

    def process_entities(self, tlo):
        if not self.save_entities:
            return None
        account = self._acct()
        acks = []
        peers = []
        rows = self._entities_to_rows(tlo)
        for row in rows:
            if row[0] == 0:
                # Telethon's own marker: "ourselves" as id 0 with our id as the hash.
                self_id = row[2]
                user = account.user()
                if self_id and (user is None or user[0] != self_id):
                    acks.append(account.set_user(self_id, self._dc_id, False, None))
            else:
                peers.append(row)
        if peers:
            acks.append(account.cache_peers(peers))
        return settle_all(acks) if acks else None

    def get_entity_rows_by_phone(self, phone):
        try:
            return _input_row(self._acct().peer_by_phone(phone))
        except InvalidArgumentError:
            return None

    def get_entity_rows_by_username(self, username):
        try:
            return _input_row(self._acct().peer_by_username(username))
        except InvalidArgumentError:
            return None

    def get_entity_rows_by_name(self, name):
        return _input_row(self._acct().peer_by_name(name))

    def get_entity_rows_by_id(self, id, exact=True):
        account = self._acct()
        if id == 0:
            user = account.user()
            if user is not None:
                return 0, user[0]
        if exact:
            return _input_row(account.peer(id))
        # Lowest marked id first, as SQLite's `id in (...)` answers: channel, chat, user.
        for marked in (utils.get_peer_id(types.PeerChannel(id)),
                       utils.get_peer_id(types.PeerChat(id)),
                       utils.get_peer_id(types.PeerUser(id))):
            row = _input_row(account.peer(marked))
            if row is not None:
                return row
        return None
