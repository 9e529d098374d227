"""The extension itself: stores, accounts, acknowledgements and the error classes."""

import asyncio
import os
import sqlite3
import stat

import pytest

import sessiondb
from sessiondb import errors

KEY = bytes(range(256))


def test_writes_survive_a_reopen_and_files_are_private(tmp_path):
    store = sessiondb.Store(str(tmp_path / "bot"))
    account = store.account("alice")
    account.set_dc(2, "149.154.167.51:443", "[2001:67c:4e8:f002::a]:443", KEY, 7, -3, 1).wait()
    account.set_home_dc(2).wait()
    account.set_update_state(100, 5, 1_700_000_000, 9).wait()
    account.set_channel_pts(1_234_567, 88).wait()
    account.cache_peers([(777, "bot", 0x1234, "Some_Bot", None, "A bot", False),
                         (-1_000_001_234_567, "megagroup", 42, None, None, "Group", None)]).wait()
    store.close().wait()

    store = sessiondb.Store(str(tmp_path / "bot"))
    account = store.account("alice")
    home, dcs, user, state, channels, takeout = account.snapshot()
    assert home == 2 and user is None and takeout is None
    assert dcs == [(2, "149.154.167.51:443", "[2001:67c:4e8:f002::a]:443", KEY, 7, -3, 1)]
    assert state == (100, 5, 1_700_000_000, 9) and channels == {1_234_567: 88}
    bot = account.peer_by_username("@SOME_BOT")
    assert bot[:3] == (777, "bot", 0x1234) and bot[4] == ["some_bot"]
    assert account.peer(-1_000_001_234_567)[1] == "megagroup"
    assert account.peer_by_name("Group")[0] == -1_000_001_234_567
    assert account.peer_count() == 2
    assert store.accounts() == ["alice"]
    for root, _dirs, files in os.walk(store.path):
        for name in files:
            mode = stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode)
            assert mode & 0o077 == 0, (name, oct(mode))
    store.close().wait()


def test_errors_are_typed_and_keep_the_engine_message(tmp_path):
    path = str(tmp_path / "bot")
    store = sessiondb.Store(path)
    with pytest.raises(errors.LockedError, match="locked by another writer"):
        sessiondb.Store(path)
    account = store.account("default")
    with pytest.raises(errors.InvalidArgumentError) as bad_key:
        account.set_dc(2, None, None, b"short").wait()
    assert isinstance(bad_key.value, ValueError)
    with pytest.raises(errors.InvalidArgumentError):
        account.peer_by_username("no spaces")
    with pytest.raises(errors.InvalidArgumentError):
        store.account("")
    store.close().wait()
    with pytest.raises(errors.ClosedError, match="store is closed"):
        account.peer(1)

    read_only = sessiondb.Store(path, read_only=True)
    with pytest.raises(errors.ReadOnlyError):
        read_only.account("default").set_home_dc(1).wait()
    read_only.close().wait()

    telethon_file = tmp_path / "old.session"
    sqlite3.connect(str(telethon_file)).executescript(
        "create table version (version integer primary key);"
        "create table sessions (dc_id integer primary key, server_address text, port integer,"
        " auth_key blob, takeout_id integer);"
        "create table entities (id integer primary key, hash integer not null, username text,"
        " phone integer, name text, date integer);"
        "create table sent_files (md5_digest blob, file_size integer, type integer, id integer,"
        " hash integer, primary key(md5_digest, file_size, type));"
        "create table update_state (id integer primary key, pts integer, qts integer,"
        " date integer, seq integer);")
    with pytest.raises(errors.ForeignFormatError, match="import it into a new store"):
        sessiondb.Store(str(telethon_file))


def test_encrypted_store_needs_its_passphrase(tmp_path):
    path = str(tmp_path / "secret")
    store = sessiondb.Store(path, b"correct horse")
    assert store.is_encrypted
    store.account("default").set_dc(1, None, None, KEY).wait()
    store.close().wait()
    with pytest.raises(errors.PassphraseRequiredError):
        sessiondb.Store(path)
    with pytest.raises(errors.WrongPassphraseError) as wrong:
        sessiondb.Store(path, b"wrong")
    assert "correct horse" not in str(wrong.value)
    store = sessiondb.Store(path, "correct horse".encode())
    assert store.account("default").snapshot()[1][0][3] == KEY
    store.close().wait()
    for root, _dirs, files in os.walk(path):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                assert KEY not in f.read(), name


def test_an_ack_settles_once_and_futures_complete_on_the_loop(tmp_path):
    store = sessiondb.Store(str(tmp_path / "bot"))
    account = store.account("default")
    ack = account.set_home_dc(4)
    ack.wait()
    with pytest.raises(RuntimeError, match="already used"):
        ack.wait()

    async def main():
        writes = [sessiondb.settle(account.set_channel_pts(i, i * 10)) for i in range(1, 201)]
        assert all(isinstance(w, asyncio.Future) for w in writes)
        await asyncio.gather(*writes)
        failing = sessiondb.settle(account.set_user(1, 2, False, ""))  # refused by the engine
        with pytest.raises(errors.InvalidArgumentError):
            await failing
        await sessiondb.settle(store.flush())

    asyncio.run(main())
    assert account.channels() == {i: i * 10 for i in range(1, 201)}
    assert sessiondb.settle(account.set_home_dc(5)) is None  # no loop: waited in place
    store.close().wait()


def test_memory_store_and_delete_account():
    store = sessiondb.Store.memory()
    assert store.path is None
    account = store.account("default")
    account.set_user(42, 2, True, "me_bot").wait()
    assert account.user() == (42, 2, True, "me_bot")
    store.delete_account("default").wait()
    assert account.user() is None and store.accounts() == []


def _child_uses_a_new_store():
    async def main():
        store = sessiondb.Store.memory()
        await sessiondb.settle(store.account("default").set_home_dc(2))
        await sessiondb.settle(store.flush())

    asyncio.run(main())


def test_a_forked_child_gets_its_own_runtime():
    import multiprocessing

    _child_uses_a_new_store()  # the parent's runtime thread is running now
    child = multiprocessing.get_context("fork").Process(target=_child_uses_a_new_store)
    child.start()
    child.join(120)  # a bound, not a wait for something to happen: a hang fails here
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive and child.exitcode == 0


EXIT_AFTER_AWAITED_CLOSE = """
import asyncio, os, sys, sessiondb
async def main():
    store = sessiondb.Store(os.path.join(sys.argv[1], "bot"))
    await sessiondb.settle(store.account("default").set_home_dc(2))
    await sessiondb.settle(store.close())
asyncio.run(main())
"""


def test_the_interpreter_exits_cleanly_right_after_an_awaited_write(tmp_path):
    # The acknowledgement thread once called back into an interpreter that had begun to
    # finalize ("PyGILState_Release ... must be current"), in most runs of this script.
    import subprocess
    import sys

    for i in range(20):
        run = subprocess.run([sys.executable, "-c", EXIT_AFTER_AWAITED_CLOSE,
                              str(tmp_path / str(i))], capture_output=True, text=True)
        assert run.returncode == 0 and "Fatal" not in run.stderr, run.stderr[-500:]
