"""sessiondb.telethon.Session against Telethon's own SQLiteSession: random sequences of the
calls Telethon's client makes (and the lookups its users make), every answer compared.

Where the two differ by design the comparison says so: a channel's update state keeps only
its pts (Telethon's client stores "any datetime" as its date), so channel dates are not
compared."""

import asyncio
import random
import warnings

import pytest
from telethon import utils
from telethon.crypto import AuthKey
from telethon.sessions import SQLiteSession
from telethon.tl import TLObject, types

from entities import EPOCH, World
from sessiondb.telethon import Session

IPV4 = ["149.154.175.53", "149.154.167.51", "149.154.175.100", "91.108.4.4"]
IPV6 = ["2001:b28:f23d:f001::a", "2001:67c:4e8:f002::a"]


def normalize(value, channel_state=False):
    if isinstance(value, AuthKey):
        return ("auth_key", value.key) if value else None
    if isinstance(value, types.updates.State):
        d = value.to_dict()
        if channel_state:
            d.pop("date")
        return d
    if isinstance(value, TLObject):
        return value.to_dict()
    return value


def outcome(f):
    """What a call answered: its normalized value, or the family of its error."""
    try:
        return ("ok", f())
    except (ValueError, TypeError) as e:
        return ("error", ValueError if isinstance(e, ValueError) else TypeError)


class Pair:
    """The two sessions, driven alike."""

    def __init__(self, tmp_path, in_memory, driver):
        self.tmp_path = tmp_path
        self.in_memory = in_memory
        self.drive = driver
        self.ours = self.ref = None
        self.open()

    def open(self):
        if self.in_memory:
            self.ours, self.ref = Session(), SQLiteSession()
        else:
            self.ours = Session(str(self.tmp_path / "ours"))
            self.ref = SQLiteSession(str(self.tmp_path / "ref"))

    def both(self, f, channel_state=False):
        """Calls f on each session (awaiting what it returns as Telethon does) and compares."""
        answers = []
        for s in (self.ours, self.ref):
            answers.append(outcome(lambda: normalize(self.drive(f(s)), channel_state)))
        assert answers[0] == answers[1], answers
        return answers[0]

    def reopen(self):
        for s in (self.ours, self.ref):
            self.drive(s.save())
            self.drive(s.close())
        self.open()


def sync_driver(result):
    return result


def async_driver():
    loop = asyncio.new_event_loop()

    async def run(result):
        return await utils.maybe_async(result)

    def drive(result):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Telethon flags async sessions as experimental
            return loop.run_until_complete(run(result))

    return drive, loop


def lookup_keys(world, rng):
    """Every kind of key get_input_entity takes, for a known or unknown entity."""
    id_ = rng.choice(world.ids())
    e = world.entities[id_]
    tl = world.tl(id_)
    marked = utils.get_peer_id(tl)
    keys = [marked, id_, utils.get_peer(tl), rng.randrange(1, 2**31), "@nobody_here_1",
            e["name"], "Name nobody"]
    if e["username"]:
        keys += ["@" + e["username"], e["username"].upper(), "https://t.me/" + e["username"]]
    if e["phone"]:
        keys += ["+" + e["phone"], e["phone"]]
    return keys


def run_sequence(pair, seed, calls=60, reopen=True):
    rng = random.Random(seed)
    world = World(rng)
    channels = world.ids("channel")
    ops = ["set_dc", "auth_key", "takeout", "state", "channel_state", "get_state", "get_states",
           "process", "process", "process", "self", "lookup", "lookup", "lookup", "props",
           "save"] + (["reopen"] if reopen else [])
    pair.both(lambda s: s.set_dc(2, IPV4[1], 443))
    for _ in range(calls):
        op = rng.choice(ops)
        if op == "set_dc":
            ip = rng.choice(IPV4 + IPV6)
            dc, port = rng.randint(1, 5), rng.choice([443, 80, 5222])
            pair.both(lambda s: s.set_dc(dc, ip, port))
        elif op == "auth_key":
            key = AuthKey(rng.randbytes(256)) if rng.random() < 0.8 else None
            for s in (pair.ours, pair.ref):
                s.auth_key = key
        elif op == "takeout":
            value = rng.choice([None, rng.randrange(1, 2**62)])
            for s in (pair.ours, pair.ref):
                s.takeout_id = value
        elif op == "state":
            state = types.updates.State(rng.randrange(1, 2**31), rng.randrange(0, 2**31),
                                        EPOCH.fromtimestamp(rng.randrange(1, 2**31), EPOCH.tzinfo),
                                        rng.randrange(0, 2**31), unread_count=0)
            pair.both(lambda s: s.set_update_state(0, state))
        elif op == "channel_state":
            cid, pts = rng.choice(channels), rng.randrange(1, 2**31)
            state = types.updates.State(pts, 0, EPOCH.now(), 0, unread_count=0)
            pair.both(lambda s: s.set_update_state(cid, state))
        elif op == "get_state":
            key = rng.choice([0, rng.choice(channels), rng.randrange(1, 2**31)])
            pair.both(lambda s: s.get_update_state(key), channel_state=key != 0)
        elif op == "get_states":
            answers = [
                {k: normalize(v, channel_state=k != 0)
                 for k, v in pair.drive(s.get_update_states())}
                for s in (pair.ours, pair.ref)
            ]
            assert answers[0] == answers[1]
        elif op == "process":
            ids = rng.sample(world.ids(), rng.randint(1, 6))
            for i in ids:
                if rng.random() < 0.3:
                    world.change(i)
            tlo = world.resolved(ids) if rng.random() < 0.8 else [world.tl(i) for i in ids]
            pair.both(lambda s: s.process_entities(tlo))
        elif op == "self":
            self_id = rng.choice(world.ids("user"))
            marker = types.contacts.ResolvedPeer(None, [types.InputPeerUser(0, self_id)], [])
            pair.both(lambda s: s.process_entities(marker))
            pair.both(lambda s: s.get_input_entity(0))
        elif op == "lookup":
            for key in lookup_keys(world, rng):
                pair.both(lambda s: s.get_input_entity(key))
        elif op == "props":
            pair.both(lambda s: (s.dc_id, s.server_address, s.port, normalize(s.auth_key),
                                 s.takeout_id))
        elif op == "save":
            pair.both(lambda s: s.save())
        elif op == "reopen":
            pair.reopen()
    if reopen:
        pair.reopen()
    pair.both(lambda s: (s.dc_id, s.server_address, s.port, normalize(s.auth_key), s.takeout_id))
    for id_ in world.ids():
        pair.both(lambda s: s.get_input_entity(utils.get_peer_id(world.tl(id_))))


@pytest.mark.parametrize("seed", range(24))
def test_file_store_answers_like_sqlite_session(tmp_path, seed):
    run_sequence(Pair(tmp_path, False, sync_driver), seed)


@pytest.mark.parametrize("seed", range(100, 106))
def test_memory_store_answers_like_sqlite_session(tmp_path, seed):
    run_sequence(Pair(tmp_path, True, sync_driver), seed, reopen=False)


@pytest.mark.parametrize("seed", range(200, 204))
def test_awaited_as_the_client_awaits(tmp_path, seed):
    drive, loop = async_driver()
    try:
        run_sequence(Pair(tmp_path, False, drive), seed)
    finally:
        loop.close()


def test_a_bare_id_shared_by_a_user_and_a_channel_answers_like_sqlite(tmp_path):
    pair = Pair(tmp_path, False, sync_driver)
    bare = 1_234_567_890
    user = types.User(id=bare, access_hash=7, username="same_id_user")
    channel = types.Channel(id=bare, title="Same id", photo=types.ChatPhotoEmpty(), date=EPOCH,
                            access_hash=8, megagroup=True)
    pair.both(lambda s: s.process_entities(types.contacts.ResolvedPeer(None, [channel], [user])))
    pair.both(lambda s: s.get_input_entity(bare))
    pair.reopen()
    pair.both(lambda s: s.get_input_entity(bare))
