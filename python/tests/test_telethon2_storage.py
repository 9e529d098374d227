"""sessiondb.telethon.Storage against Telethon 2's documented Storage interface (Telethon 2
is not on PyPI: its Session, DataCenter, User, UpdateState and ChannelState as plain
classes with the documented fields)."""

import asyncio

import pytest

import sessiondb
from sessiondb.telethon import Storage
from sessiondb.telethon2 import ChannelState, DataCenter, Session, UpdateState, User

KEY = bytes(range(256))


def session(pts=100, channels=((1_111, 5), (2_222, 6))):
    return Session(
        dcs=[DataCenter(id=2, ipv4_addr="149.154.167.51:443", ipv6_addr=None, auth=KEY),
             DataCenter(id=4, ipv4_addr=None, ipv6_addr="[2001:67c:4e8:f004::a]:443", auth=None)],
        user=User(id=42, dc=2, bot=True, username="me_bot"),
        state=UpdateState(pts=pts, qts=2, date=1_700_000_000, seq=3,
                          channels=[ChannelState(id=c, pts=p) for c, p in channels]),
    )


def test_load_gives_back_what_save_stored_across_a_reopen(tmp_path):
    path = str(tmp_path / "bot")

    async def main():
        storage = Storage(path)
        assert await storage.load() is None  # never saved
        await storage.save(session())
        await storage.save(session(pts=200, channels=((2_222, 9),)))  # 1_111 is forgotten
        await storage.close()
        storage = Storage(path)
        loaded = await storage.load()
        assert loaded == session(pts=200, channels=((2_222, 9),))
        await storage.delete()
        assert await storage.load() is None
        await storage.close()

    asyncio.run(main())


def test_a_shared_store_keeps_accounts_apart_and_stays_open():
    store = sessiondb.Store.memory()

    async def main():
        alice, bob = Storage(store=store, account="alice"), Storage(store=store, account="bob")
        await alice.save(session())
        assert await bob.load() is None
        await alice.close()
        assert (await alice.load()).user.username == "me_bot"

    asyncio.run(main())


def test_a_bad_address_is_a_typed_error_and_changes_nothing():
    storage = Storage()
    bad = session()
    bad.dcs[0].ipv4_addr = "not an address"

    async def main():
        await storage.save(session())
        with pytest.raises(sessiondb.errors.InvalidArgumentError):
            await storage.save(bad)
        assert await storage.load() == session()

    asyncio.run(main())


def test_close_then_use_again_reopens_the_store(tmp_path):
    storage = Storage(str(tmp_path / "bot"), passphrase="words")

    async def main():
        await storage.save(session())
        await storage.close()
        assert await storage.load() == session()
        await storage.close()

    asyncio.run(main())
