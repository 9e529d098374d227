"""Child of test_pyrogram_crash.py: handles "updates" for ever through a fork's storage as
its client does (fetch_peers' update_peers, then the update state), printing ``handled N``
and ``ack N``. sessiondb: each is durable when awaited. The fork's own SQLite storage:
committed by save() (its client calls it at start and stop); here every SAVE_EVERY."""

import asyncio
import sys
from pathlib import Path

from pyrogram import utils

from sessiondb.pyrogram import UpdateState

KURIGRAM = UpdateState is not None

SAVE_EVERY = 50
CHANNEL = utils.get_channel_id(1_234_567)


def peer_row(n):
    if KURIGRAM:
        return (10_000_000 + n, n, "user", None)
    return (10_000_000 + n, n, "user", "crash{}".format(n), None)


async def states(storage):
    if KURIGRAM:
        return {s.id: s.pts for s in await storage.get_update_states()}
    return {s[0]: s[1] for s in await storage.update_state()}


async def put_state(storage, state_id, n):
    if KURIGRAM:
        await storage.set_update_state(UpdateState(state_id, n, None, None, None))
    else:
        await storage.update_state((state_id, n, None, 1_700_000_000, None))


def make(kind, workdir):
    if kind == "sessiondb":
        from sessiondb.pyrogram import Storage
        return Storage("bot", workdir=workdir)
    if KURIGRAM:
        from pyrogram.storage import SQLiteStorage
        return SQLiteStorage("bot", workdir=Path(workdir))
    from pyrogram.storage import FileStorage
    return FileStorage("bot", Path(workdir))


async def main(kind, workdir):
    storage = make(kind, workdir)
    await storage.open()
    n = (await states(storage)).get(0, 0)
    unsaved = []
    while True:
        n += 1
        await storage.update_peers([peer_row(n)])
        await put_state(storage, CHANNEL, n)
        await put_state(storage, 0, n)
        print("handled", n, flush=True)
        unsaved.append(n)
        if kind == "sessiondb" or len(unsaved) == SAVE_EVERY:
            if kind != "sessiondb":
                await storage.save()
            for m in unsaved:
                print("ack", m, flush=True)
            unsaved.clear()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
