"""SIGKILL a child handling updates through the fork's storage at 50 random moments (a random
number of handled updates in), reopen after each kill and check that every acknowledged
update state, channel pts and peer is there. The fork's own SQLite storage runs through the
same loop; its figures are printed beside ours, ours are asserted."""

import asyncio
import os
import random
import sys

import pytest

from crash_child import CHANNEL, make, peer_row, states

# The kill loop is python/tests' (appended: this folder's crash_child comes first).
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from kill_loop import run_and_kill  # noqa: E402

KILLS = 50
CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "crash_child.py")


async def check(kind, workdir, acked):
    storage = make(kind, workdir)
    await storage.open()  # opens after every kill, or the test fails here
    found = await states(storage)
    stored = found.get(0, 0)
    assert found.get(CHANNEL, 0) >= min(stored, acked)
    for n in range(max(1, acked - 20), min(stored, acked) + 1):
        peer = await storage.get_peer_by_id(peer_row(n)[0])
        assert peer.access_hash == n
    await storage.close()
    return stored


@pytest.mark.parametrize("kind", ["sessiondb", "fork"])
def test_no_acknowledged_update_is_lost_across_kills(tmp_path, kind):
    rng = random.Random(24)
    workdir = str(tmp_path)
    lost_acked = lost_handled = 0
    for _ in range(KILLS):
        acked, handled = run_and_kill(CHILD, kind, workdir, rng)
        stored = asyncio.run(check(kind, workdir, acked))
        lost_acked += max(0, acked - stored)
        lost_handled += max(0, handled - stored)
    print("\n{}: {} kills, acknowledged updates lost: {}, handled updates not stored: {}"
          .format(kind, KILLS, lost_acked, lost_handled))
    assert lost_acked == 0
    if kind == "sessiondb":
        assert lost_handled == 0
