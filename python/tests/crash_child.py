"""Child of test_crash.py: handles "updates" for ever through a Telethon session, printing
``ack N`` once update N (its pts, a channel's pts and one entity) is acknowledged, and
``handled N`` once the bot is done with it.

sessiondb: every update state is durable when its awaitable completes, so each update is
acknowledged as it is handled. Telethon's SQLiteSession: writes are committed by ``save()``,
which the client calls about once a minute; here every ``SAVE_EVERY`` updates."""

import asyncio
import sys
import warnings

from telethon import utils
from telethon.tl import types

from entities import EPOCH

SAVE_EVERY = 50
CHANNEL = 1_234_567


def user(n):
    return types.User(id=10_000_000 + n, access_hash=n, username="crash{}".format(n))


async def main(kind, path):
    if kind == "sessiondb":
        from sessiondb.telethon import Session
        session = Session(path)
    else:
        from telethon.sessions import SQLiteSession
        session = SQLiteSession(path)
    state = session.get_update_state(0)
    n = state.pts if state else 0
    unsaved = []
    while True:
        n += 1
        await utils.maybe_async(session.process_entities(
            types.contacts.ResolvedPeer(None, [], [user(n)])))
        await utils.maybe_async(session.set_update_state(
            CHANNEL, types.updates.State(n, 0, EPOCH, 0, unread_count=0)))
        await utils.maybe_async(session.set_update_state(
            0, types.updates.State(n, 0, EPOCH, n, unread_count=0)))
        print("handled", n, flush=True)
        unsaved.append(n)
        if kind == "sessiondb" or len(unsaved) == SAVE_EVERY:
            await utils.maybe_async(session.save())
            for m in unsaved:
                print("ack", m, flush=True)
            unsaved.clear()


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    asyncio.run(main(sys.argv[1], sys.argv[2]))
