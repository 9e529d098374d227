"""A Telethon 1.45 TelegramClient on sessiondb.telethon.Session, offline: the session driven
through the client's own code paths (state and entity saving, auth-key callback, lookups,
disconnect), then read back by a second client on the same store."""

import asyncio
import warnings

from telethon import TelegramClient, utils
from telethon._updates import ChannelState, SessionState
from telethon.crypto import AuthKey
from telethon.tl import types

import sessiondb
from entities import EPOCH
from sessiondb.telethon import Session

API_ID, API_HASH = 12345, "0123456789abcdef0123456789abcdef"
KEY = bytes(reversed(range(256)))

ME = types.User(id=5_000_001, access_hash=111, username="me_bot", bot=True, is_self=True,
                first_name="Me")
ALICE = types.User(id=5_000_002, access_hash=222, username="Alice", phone="15550001",
                   first_name="Alice", last_name="Liddell")
GROUP = types.Chat(id=900_001, title="Old group", photo=types.ChatPhotoEmpty(),
                   participants_count=3, date=EPOCH, version=1)
NEWS = types.Channel(id=1_700_001, title="News", photo=types.ChatPhotoEmpty(), date=EPOCH,
                     access_hash=333, username="news_channel", broadcast=True)
CHAT = types.Channel(id=1_700_002, title="Chat", photo=types.ChatPhotoEmpty(), date=EPOCH,
                     access_hash=444, megagroup=True)


async def session_calls(client):
    """What connect() does before and after the network, then what a running client does."""
    await utils.maybe_async(client.session.set_dc(2, "149.154.167.51", 443))
    await utils.maybe_async(client.session.save())
    await client._auth_key_callback(AuthKey(KEY))  # the sender made a new key
    resolved = types.contacts.ResolvedPeer(peer=types.PeerUser(ALICE.id), chats=[GROUP, NEWS, CHAT],
                                           users=[ME, ALICE])
    await utils.maybe_async(client.session.process_entities(resolved))
    client._mb_entity_cache.set_self_user(ME.id, True, ME.access_hash)
    client._message_box.load(SessionState(0, 0, False, 4321, 12, 1_700_000_000, 77, None),
                             [ChannelState(NEWS.id, 55), ChannelState(CHAT.id, 66)])


async def lookups(client):
    """The client's own get_input_entity, by every key the session answers for."""
    expect_alice = types.InputPeerUser(ALICE.id, ALICE.access_hash)
    for key in ("alice", "@ALICE", "https://t.me/alice", "+1 555 0001", ALICE.id,
                types.PeerUser(ALICE.id), "Alice Liddell"):
        assert await client.get_input_entity(key) == expect_alice, key
    assert await client.get_input_entity(-GROUP.id) == types.InputPeerChat(GROUP.id)
    assert await client.get_input_entity(types.PeerChat(GROUP.id)) == types.InputPeerChat(GROUP.id)
    news = types.InputPeerChannel(NEWS.id, NEWS.access_hash)
    assert await client.get_input_entity("news_channel") == news
    assert await client.get_input_entity(types.PeerChannel(NEWS.id)) == news
    assert await client.get_input_entity(utils.get_peer_id(CHAT)) == types.InputPeerChannel(
        CHAT.id, CHAT.access_hash)


def test_a_client_saves_and_a_second_client_reads_it_back(tmp_path):
    path = str(tmp_path / "bot")

    async def first():
        client = TelegramClient(Session(path), API_ID, API_HASH)
        await session_calls(client)
        await lookups(client)
        await client.disconnect()  # saves states and entities, closes the session

    async def second():
        session = Session(path)
        client = TelegramClient(session, API_ID, API_HASH)
        assert (session.dc_id, session.server_address, session.port) == (2, "149.154.167.51", 443)
        assert session.auth_key.key == KEY
        self_entity = await utils.maybe_async(session.get_input_entity(0))
        assert self_entity.access_hash == ME.id  # Telethon's marker for its own id
        states = dict(await utils.maybe_async(session.get_update_states()))
        assert (states[0].pts, states[0].qts, states[0].seq) == (4321, 12, 77)
        assert int(states[0].date.timestamp()) == 1_700_000_000
        assert {k: v.pts for k, v in states.items() if k} == {NEWS.id: 55, CHAT.id: 66}
        await lookups(client)
        await client.disconnect()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Telethon flags awaitable sessions as experimental
        asyncio.run(first())
        asyncio.run(second())

    store = sessiondb.Store(path)
    account = store.account(sessiondb.DEFAULT_ACCOUNT)
    kinds = {p[0]: p[1] for p in account.peers()}
    assert kinds == {ME.id: "bot", ALICE.id: "user", -GROUP.id: "group",
                     utils.get_peer_id(NEWS): "channel", utils.get_peer_id(CHAT): "megagroup"}
    assert account.peer(ME.id)[7] is True  # is_self
    assert account.user()[0] == ME.id
    store.close().wait()


def test_migrating_dc_keeps_one_dc_and_the_key_until_the_client_clears_it(tmp_path):
    path = str(tmp_path / "bot")
    session = Session(path)
    session.set_dc(2, "149.154.167.51", 443)
    session.auth_key = AuthKey(KEY)
    session.set_dc(4, "2001:67c:4e8:f004::a", 443)  # what _switch_dc does first
    assert session.auth_key.key == KEY
    session.auth_key = None  # ... then this
    session.close()
    store = sessiondb.Store(path)
    home, dcs, *_ = store.account(sessiondb.DEFAULT_ACCOUNT).snapshot()
    assert home == 4 and dcs == [(4, None, "[2001:67c:4e8:f004::a]:443", None, 0, 0, 0)]
    store.close().wait()


def test_writes_return_awaitables_only_inside_a_loop(tmp_path):
    session = Session(str(tmp_path / "bot"))
    state = types.updates.State(1, 2, EPOCH, 3, unread_count=0)
    assert session.set_update_state(0, state) is None  # waited in place

    async def inside():
        pending = session.set_update_state(0, types.updates.State(9, 2, EPOCH, 3, unread_count=0))
        assert isinstance(pending, asyncio.Future)
        await pending
        assert session.get_update_state(0).pts == 9

    asyncio.run(inside())
    session.close()


def test_save_entities_false_caches_nothing_and_clone_is_in_memory(tmp_path):
    session = Session(str(tmp_path / "bot"))
    session.save_entities = False
    session.process_entities(types.contacts.ResolvedPeer(None, [], [ALICE]))
    assert session._acct().peer_count() == 0
    copy = session.clone()
    assert isinstance(copy, Session) and copy.save_entities is False
    copy.set_dc(4, "149.154.167.91", 443)
    assert copy._store.path is None and session.dc_id == 0
    session.close()


def test_an_in_memory_session_keeps_its_data_across_close():
    session = Session()
    session.set_dc(2, "149.154.167.51", 443)
    session.process_entities(types.contacts.ResolvedPeer(None, [], [ALICE]))
    session.close()  # what every disconnect() does
    assert session.get_input_entity("alice") == types.InputPeerUser(ALICE.id, ALICE.access_hash)
    assert session.dc_id == 2


def test_a_host_name_is_refused_before_anything_changes(tmp_path):
    session = Session(str(tmp_path / "bot"))
    session.set_dc(2, "149.154.167.51", 443)
    try:
        session.set_dc(4, "venus.example.org", 443)
    except sessiondb.errors.InvalidArgumentError:
        pass
    else:
        raise AssertionError("a host name was accepted")
    assert (session.dc_id, session.server_address) == (2, "149.154.167.51")
    session.close()
    assert Session(str(tmp_path / "bot")).dc_id == 2


def test_delete_wipes_the_account_and_releases_the_store(tmp_path):
    path = str(tmp_path / "bot")
    session = Session(path, passphrase="text passphrase")
    session.set_dc(2, "149.154.167.51", 443)
    session.auth_key = AuthKey(KEY)
    session.delete()
    store = sessiondb.Store(path, "text passphrase".encode())  # the lock is free again
    assert store.account(sessiondb.DEFAULT_ACCOUNT).snapshot()[:2] == (None, [])
    store.close().wait()
