"""The installed fork's Client on sessiondb.pyrogram.Storage, offline: its own load_session,
fetch_peers (users, bots, a basic group, a channel, a supergroup, with usernames and phones),
handle_updates (pts of the common box and of a channel) and resolve_peer by id, username and
phone; a second client reads everything back."""

import asyncio

from pyrogram import Client, raw, utils

import sessiondb
from sessiondb.pyrogram import Storage, UpdateState

KURIGRAM = UpdateState is not None
KEY = bytes(range(256))

ALICE = raw.types.User(id=5_000_002, access_hash=222, username="Alice", phone="15550001",
                       first_name="Alice")
BOT = raw.types.User(id=5_000_003, access_hash=333, username="some_bot", bot=True,
                     first_name="Bot")
GROUP = raw.types.Chat(id=900_001, title="Group", photo=raw.types.ChatPhotoEmpty(),
                       participants_count=3, date=0, version=1)
NEWS = raw.types.Channel(id=1_700_001, title="News", photo=raw.types.ChatPhotoEmpty(), date=0,
                         access_hash=444, username="news_channel", broadcast=True)
CHAT = raw.types.Channel(id=1_700_002, title="Chat", photo=raw.types.ChatPhotoEmpty(), date=0,
                         access_hash=555, megagroup=True)


def client(workdir):
    storage = Storage("bot", workdir=str(workdir))
    kwargs = {"storage_engine": storage} if KURIGRAM else {"storage": storage}
    return Client("bot", api_id=12345, api_hash="0123456789abcdef0123456789abcdef",
                  workdir=str(workdir), **kwargs)


async def logged_in(workdir):
    """What a sign-in leaves in the storage (the network part is not run here)."""
    storage = Storage("bot", workdir=str(workdir))
    await storage.open()
    await storage.api_id(12345)
    await storage.dc_id(2)
    await storage.test_mode(False)
    await storage.auth_key(KEY)
    await storage.user_id(BOT.id)
    await storage.is_bot(True)
    await storage.close()


async def resolves(app):
    # resolve_peer refuses to run unconnected; every key below is answered by the storage
    # alone (a miss would need the network and fail).
    app.is_connected = True
    assert await app.resolve_peer(ALICE.id) == raw.types.InputPeerUser(
        user_id=ALICE.id, access_hash=222)
    assert await app.resolve_peer("@alice") == await app.resolve_peer(ALICE.id)
    assert await app.resolve_peer("+1 555 0001") == await app.resolve_peer(ALICE.id)
    assert await app.resolve_peer("some_bot") == raw.types.InputPeerUser(
        user_id=BOT.id, access_hash=333)
    assert await app.resolve_peer(-GROUP.id) == raw.types.InputPeerChat(chat_id=GROUP.id)
    news = raw.types.InputPeerChannel(channel_id=NEWS.id, access_hash=444)
    assert await app.resolve_peer("news_channel") == news
    assert await app.resolve_peer(utils.get_channel_id(NEWS.id)) == news
    assert await app.resolve_peer(utils.get_channel_id(CHAT.id)) == raw.types.InputPeerChannel(
        channel_id=CHAT.id, access_hash=555)


def test_a_client_writes_and_a_second_client_reads_it_back(tmp_path):
    async def first():
        await logged_in(tmp_path)
        app = client(tmp_path)
        await app.load_session()
        await app.fetch_peers([ALICE, BOT])
        await app.fetch_peers([GROUP, NEWS, CHAT])
        private = raw.types.Message(id=1, peer_id=raw.types.PeerUser(user_id=ALICE.id),
                                    date=1_700_000_000, message="hi")
        in_chat = raw.types.Message(id=2, peer_id=raw.types.PeerChannel(channel_id=CHAT.id),
                                    date=1_700_000_000, message="hi")
        await app.handle_updates(raw.types.Updates(
            updates=[raw.types.UpdateNewMessage(message=private, pts=4321, pts_count=1),
                     raw.types.UpdateNewChannelMessage(message=in_chat, pts=66, pts_count=1)],
            users=[ALICE], chats=[CHAT], date=1_700_000_000, seq=7))
        await resolves(app)
        await app.storage.save()
        await app.storage.close()

    async def second():
        app = client(tmp_path)
        await app.load_session()
        assert await app.storage.auth_key() == KEY
        assert (await app.storage.user_id(), await app.storage.is_bot()) == (BOT.id, True)
        await resolves(app)
        states = (await app.storage.get_update_states() if KURIGRAM
                  else await app.storage.update_state())
        pts = {tuple(s.__dict__.values())[0] if KURIGRAM else s[0]:
               tuple(s.__dict__.values())[1] if KURIGRAM else s[1] for s in states}
        assert pts == {0: 4321, utils.get_channel_id(CHAT.id): 66}
        await app.storage.close()

    asyncio.run(first())
    asyncio.run(second())
    store = sessiondb.Store(str(tmp_path / "bot"))
    kinds = {p[0]: p[1] for p in store.account(sessiondb.DEFAULT_ACCOUNT).peers()}
    assert kinds == {ALICE.id: "user", BOT.id: "bot", -GROUP.id: "group",
                     utils.get_channel_id(NEWS.id): "channel",
                     utils.get_channel_id(CHAT.id): "megagroup"}
    store.close().wait()


def test_log_out_after_stop_deletes_the_account(tmp_path):
    async def main():
        await logged_in(tmp_path)
        app = client(tmp_path)
        await app.load_session()
        await app.storage.close()  # stop()
        await app.storage.delete()  # ... then log_out() deletes
        storage = Storage("bot", workdir=str(tmp_path))
        await storage.open()
        assert await storage.auth_key() is None and await storage.user_id() is None
        await storage.close()

    asyncio.run(main())


def test_two_storages_on_one_store_keep_their_accounts_apart():
    store = sessiondb.Store.memory()

    async def main():
        a, b = Storage("a", store=store), Storage("b", store=store)
        await a.open()
        await b.open()
        await a.api_id(11)
        await b.api_id(22)
        await b.date(5)
        assert (await a.api_id(), await b.api_id()) == (11, 22)
        await a.close()
        await a.open()
        assert await a.api_id() == 11

    asyncio.run(main())


def test_a_refused_write_leaves_the_row_as_stored(tmp_path):
    async def main():
        storage = Storage("bot", workdir=str(tmp_path))
        await storage.open()
        await storage.auth_key(KEY)
        try:
            await storage.auth_key(b"short")
        except sessiondb.errors.InvalidArgumentError:
            pass
        else:
            raise AssertionError("a 5-byte key was accepted")
        assert await storage.auth_key() == KEY
        await storage.close()

    asyncio.run(main())
