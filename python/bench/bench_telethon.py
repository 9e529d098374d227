"""Same-run figures: sessiondb.telethon.Session against Telethon's SQLiteSession, interleaved
rounds, medians. Usage (in a virtualenv with ./python and telethon installed):

    python python/bench/bench_telethon.py [--rounds 5] [--dir DIR]

Rows: process_entities of 10k entities (and the save() that makes them durable), one
get_input_entity by id and by username in a 100k-entity cache, set_update_state followed by
save() (durable for both)."""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from telethon.sessions import SQLiteSession  # noqa: E402
from telethon.tl import types  # noqa: E402

from entities import EPOCH, many_users  # noqa: E402
from sessiondb.telethon import Session  # noqa: E402

SYSTEMS = {"sessiondb": Session, "SQLiteSession": SQLiteSession}


def resolved(users):
    return types.contacts.ResolvedPeer(None, [], users)


def ingest(make, path, users):
    """Seconds for process_entities of `users` in one call, and for the save() after it."""
    session = make(path)
    t0 = time.perf_counter()
    session.process_entities(resolved(users))
    t1 = time.perf_counter()
    session.save()
    t2 = time.perf_counter()
    session.close()
    return t1 - t0, t2 - t1


def lookups(session, keys):
    """Seconds per get_input_entity over `keys`."""
    t0 = time.perf_counter()
    for key in keys:
        session.get_input_entity(key)
    return (time.perf_counter() - t0) / len(keys)


def durable_states(session, count):
    """Seconds per set_update_state + save()."""
    t0 = time.perf_counter()
    for n in range(1, count + 1):
        session.set_update_state(0, types.updates.State(n, 0, EPOCH, n, unread_count=0))
        session.save()
    return (time.perf_counter() - t0) / count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", default=None)
    parser.add_argument("--cache", type=int, default=100_000)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="bench-telethon-", dir=args.dir)
    rng = random.Random(1)
    results = {name: {} for name in SYSTEMS}

    def record(name, row, value):
        results[name].setdefault(row, []).append(value)

    # A 100k-entity cache for each system, written as a client would (batches of 100).
    big = many_users(1_000_000, args.cache)
    caches = {}
    for name, make in SYSTEMS.items():
        session = make(os.path.join(root, "cache-" + name))
        for i in range(0, len(big), 100):
            session.process_entities(resolved(big[i:i + 100]))
        session.save()
        caches[name] = session
    ids = [u.id for u in rng.sample(big, 2000)]
    names = [u.username for u in rng.sample(big, 2000)]

    for r in range(args.rounds):
        order = list(SYSTEMS.items())
        if r % 2:
            order.reverse()
        for name, make in order:
            fresh = many_users(10_000_000 + r * 100_000, 10_000)
            process, save = ingest(make, os.path.join(root, "ingest-{}-{}".format(name, r)), fresh)
            record(name, "process_entities, 10k entities (ms)", process * 1e3)
            record(name, "... + the save() after it (ms)", (process + save) * 1e3)
            record(name, "get_input_entity by id, 100k cached (µs)", lookups(caches[name], ids) * 1e6)
            record(name, "get_input_entity by username, 100k cached (µs)",
                   lookups(caches[name], names) * 1e6)
            record(name, "set_update_state + save(), durable (µs)",
                   durable_states(caches[name], 200) * 1e6)

    rows = list(results["sessiondb"])
    print("| row (median of {} interleaved rounds) | sessiondb | SQLiteSession | ratio |".format(
        args.rounds))
    print("|---|---|---|---|")
    for row in rows:
        ours = statistics.median(results["sessiondb"][row])
        theirs = statistics.median(results["SQLiteSession"][row])
        print("| {} | {:.1f} | {:.1f} | {:.2f}× |".format(row, ours, theirs, theirs / ours))
    for session in caches.values():
        session.close()


if __name__ == "__main__":
    main()
