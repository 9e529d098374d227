#!/usr/bin/env python3
"""Generate session-format fixtures with the real Telethon / Pyrogram / GramJS libraries.

Offline and deterministic; every value is fake (see FAKE DATA below). Each target must run
in the virtualenv that holds the matching library version (see README.md and regen.sh):

    python generate.py telethon           # Telethon 1.x SQLiteSession -> telethon-<major.minor>.session
    python generate.py telethon-strings   # Telethon StringSession    -> telethon-ipv4.string, telethon-ipv6.string
    python generate.py pyrogram           # Pyrogram FileStorage/MemoryStorage -> pyrogram-<version>.session + strings (2.x: also a test-mode bot string)
    python generate.py pyrogram-migrated  # Pyrogram 2.x opens a copy of pyrogram-1.4.16.session (adds api_id last)
    python generate.py gramjs             # node + npm `telegram` (GramJS) -> gramjs-ipv4.string, gramjs-ipv6.string

Options: --out DIR (default: <repo>/tests/fixtures/formats), --readback DIR (default:
$FIXTURE_READBACK_DIR or /tmp/fixture-readback): each target reads its fixtures back with the
same library and writes <target>.json there; make_expected.py cross-checks those against its
own sqlite3/struct reading before writing EXPECTED.json.

The only post-processing after a library writes a file is explicit and listed here:
  * Telethon: entities.date comes from time.time(); the generator swaps the `time` module seen
    by telethon.sessions.sqlite for a fixed clock (so the library itself writes 1700000100 /
    1700000200 / 1700000300), then one row (Bob) is UPDATEd to the REAL 1700000123.5 so the
    fixture covers a REAL date in `entities` (the schema's `integer` affinity keeps a REAL
    that has a fraction). The channel update_state date 1700000050.25 is REAL because
    Telethon itself stores `state.date.timestamp()` (a float); nothing is patched there.
  * Pyrogram: save() writes date=int(time.time()); we then call the library's own
    storage.date(1700000000). peers.last_update_on defaults to SQLite's 'now'; the rows are
    re-inserted with REPLACE (the AFTER UPDATE trigger would reset an UPDATE) to 1700000000.
    Note that Pyrogram itself treats usernames older than 8 h as expired.
"""
import argparse
import asyncio
import datetime
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import types as pytypes
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_OUT = REPO / "tests" / "fixtures" / "formats"

# ---------------------------------------------------------------- FAKE DATA (never real)
AUTH_KEY = bytes((i * 7 + 3) % 256 for i in range(256))  # 03 0a 11 18 ... ; never all zeros
DC_ID = 2
IPV4 = "149.154.167.41"
IPV6 = "2001:67c:4e8:f002::a"
PORT = 443
SELF_ID = 123456789
SELF_ID_64 = 6123456789  # only for Pyrogram's old 64-bit string format ('>B?256sQ?')
API_ID = 12345
PYRO_DATE = 1700000000
UTC = datetime.timezone.utc

# Account update state (Telethon entity id 0) and two channel states.
STATE = dict(pts=100, qts=5, date=1700000000, seq=7)
CHANNEL_STATES = [
    # (bare channel id, pts, date). 1700000050.25 is stored by Telethon as REAL.
    (1777888999, 4242, 1700000050.25),
    (1222333444, 777, 1700000060),
]

USERS = [
    dict(id=SELF_ID, access_hash=8765432109876543210, first_name="Alice", last_name="Example",
         username="Alice_Fake", phone="15550100001", bot=False, is_self=True),
    dict(id=5000000001, access_hash=-4242424242424242424, first_name="Bob", last_name=None,
         username=None, phone="15550100002", bot=False, is_self=False),
    dict(id=222333444, access_hash=-1, first_name="Zoë", last_name="Ünicode",
         username="zoe_fake", phone=None, bot=False, is_self=False),
    dict(id=987654321, access_hash=1234567890123456789, first_name="Fake Helper Bot",
         last_name=None, username="fake_helper_bot", phone=None, bot=True, is_self=False),
]
CHATS = [
    dict(kind="chat", id=444555666, title="Fake Basic Group"),
    dict(kind="broadcast", id=1777888999, access_hash=5555666677778888999,
         title="Fake News Channel", username="fake_news_channel"),
    dict(kind="megagroup", id=1222333444, access_hash=-7000000000000000001,
         title="Fake Megagroup", username=None),
]
# Telethon entity dates written through the fixed clock, then Bob's becomes REAL.
T_SELF, T_USERS, T_CHATS = 1700000100, 1700000200, 1700000300
REAL_DATE_USER_ID = 5000000001
REAL_DATE = 1700000123.5
# One sent_files row (Telethon) so importers see a non-empty table they must ignore.
SENT_FILE = dict(md5=bytes(range(16)), size=12345, id=1111111111111111111, hash=-2222222222222222222)


def write_json(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


def key_hex(k):
    return k.hex() if k is not None else None


# ---------------------------------------------------------------- Telethon
def telethon_tl_objects(types):
    users = []
    for u in USERS:
        users.append(types.User(
            id=u["id"], is_self=u["is_self"], bot=u["bot"], access_hash=u["access_hash"],
            first_name=u["first_name"], last_name=u["last_name"], username=u["username"],
            phone=u["phone"]))
    chats = []
    for c in CHATS:
        if c["kind"] == "chat":
            chats.append(types.Chat(
                id=c["id"], title=c["title"], photo=types.ChatPhotoEmpty(), participants_count=3,
                date=datetime.datetime.fromtimestamp(1600000000, UTC), version=1))
        else:
            chats.append(types.Channel(
                id=c["id"], title=c["title"], photo=types.ChatPhotoEmpty(),
                date=datetime.datetime.fromtimestamp(1600000000, UTC), access_hash=c["access_hash"],
                username=c["username"], broadcast=c["kind"] == "broadcast",
                megagroup=c["kind"] == "megagroup"))
    return users, chats


class _FixedClock:
    def __init__(self, t):
        self.t = t

    def time(self):
        return self.t


def gen_telethon(out, readback):
    import telethon
    import telethon.sessions.sqlite as tsqlite
    from telethon.crypto import AuthKey
    from telethon.sessions import SQLiteSession
    from telethon.tl import types

    major_minor = ".".join(telethon.__version__.split(".")[:2])
    stem = out / f"telethon-{major_minor}"
    path = Path(str(stem) + ".session")
    if path.exists():
        path.unlink()

    s = SQLiteSession(str(stem))
    s.set_dc(DC_ID, IPV4, PORT)
    s.auth_key = AuthKey(AUTH_KEY)
    users, chats = telethon_tl_objects(types)
    real_time = tsqlite.time
    try:
        # Exactly what TelegramClient._save_states_and_entities does for the self id.
        tsqlite.time = _FixedClock(T_SELF)
        s.process_entities(types.contacts.ResolvedPeer(None, [types.InputPeerUser(0, SELF_ID)], []))
        tsqlite.time = _FixedClock(T_USERS)
        s.process_entities(types.contacts.ResolvedPeer(types.PeerUser(SELF_ID), [], users))
        tsqlite.time = _FixedClock(T_CHATS)
        s.process_entities(types.contacts.ResolvedPeer(types.PeerUser(SELF_ID), chats, []))
    finally:
        tsqlite.time = real_time
    s.set_update_state(0, types.updates.State(
        pts=STATE["pts"], qts=STATE["qts"], seq=STATE["seq"], unread_count=0,
        date=datetime.datetime.fromtimestamp(STATE["date"], UTC)))
    for cid, pts, date in CHANNEL_STATES:
        s.set_update_state(cid, types.updates.State(
            pts, 0, datetime.datetime.fromtimestamp(date, UTC), 0, unread_count=0))
    s.cache_file(SENT_FILE["md5"], SENT_FILE["size"],
                 types.InputDocument(SENT_FILE["id"], SENT_FILE["hash"], b""))
    s.save()
    s.close()

    # Post-process (documented): one REAL date in entities.
    con = sqlite3.connect(path)
    with con:
        con.execute("UPDATE entities SET date = ? WHERE id = ?", (REAL_DATE, REAL_DATE_USER_ID))
    con.execute("VACUUM")
    con.close()

    # Read back with the same library.
    s = SQLiteSession(str(stem))
    rb = dict(library=f"telethon {telethon.__version__}",
              schema_version=tsqlite.CURRENT_VERSION,
              dc_id=s.dc_id, server_address=s.server_address, port=s.port,
              auth_key_hex=key_hex(s.auth_key.key if s.auth_key else None),
              takeout_id=s.takeout_id)
    me = s.get_input_entity(0)
    rb["self_user_id"] = me.access_hash
    ents = {}
    for u in USERS:
        ents[str(u["id"])] = list(s.get_entity_rows_by_id(u["id"]))
    for c in CHATS:
        marked = -c["id"] if c["kind"] == "chat" else -(1000000000000 + c["id"])
        ents[str(marked)] = list(s.get_entity_rows_by_id(marked))
    rb["entities_by_id"] = ents
    rb["entities_by_username"] = {
        x["username"].lower(): list(s.get_entity_rows_by_username(x["username"].lower()))
        for x in USERS + CHATS if x.get("username")}
    rb["entities_by_phone"] = {
        u["phone"]: list(s.get_entity_rows_by_phone(u["phone"])) for u in USERS if u["phone"]}
    st = s.get_update_state(0)
    rb["update_state"] = dict(pts=st.pts, qts=st.qts, date=st.date.timestamp(), seq=st.seq)
    rb["channel_states"] = sorted(
        [dict(channel_id=i, pts=st.pts, date=st.date.timestamp())
         for i, st in s.get_update_states() if i != 0], key=lambda d: d["channel_id"])
    s.close()
    write_json(readback / f"{path.name}.json", rb)
    print(f"wrote {path} (telethon {telethon.__version__}, schema {tsqlite.CURRENT_VERSION})")


def gen_telethon_strings(out, readback):
    import telethon
    from telethon.crypto import AuthKey
    from telethon.sessions import StringSession

    for name, ip in (("telethon-ipv4.string", IPV4), ("telethon-ipv6.string", IPV6)):
        s = StringSession()
        s.set_dc(DC_ID, ip, PORT)
        s.auth_key = AuthKey(AUTH_KEY)
        string = s.save()
        (out / name).write_text(string)  # no trailing newline: the file is the string
        r = StringSession(string)
        write_json(readback / f"{name}.json", dict(
            library=f"telethon {telethon.__version__}", dc_id=r.dc_id,
            server_address=r.server_address, port=r.port, auth_key_hex=key_hex(r.auth_key.key)))
        print(f"wrote {out / name} ({len(string)} chars, telethon {telethon.__version__})")


# ---------------------------------------------------------------- Pyrogram
def pyrogram_tl_objects(raw):
    users = [raw.types.User(id=u["id"], is_self=u["is_self"], bot=u["bot"],
                            access_hash=u["access_hash"], first_name=u["first_name"],
                            last_name=u["last_name"], username=u["username"], phone=u["phone"])
             for u in USERS]
    chats = []
    for c in CHATS:
        if c["kind"] == "chat":
            chats.append(raw.types.Chat(id=c["id"], title=c["title"],
                                        photo=raw.types.ChatPhotoEmpty(), participants_count=3,
                                        date=1600000000, version=1))
        else:
            chats.append(raw.types.Channel(id=c["id"], title=c["title"],
                                           photo=raw.types.ChatPhotoEmpty(), date=1600000000,
                                           access_hash=c["access_hash"], username=c["username"],
                                           broadcast=c["kind"] == "broadcast",
                                           megagroup=c["kind"] == "megagroup"))
    return users + chats


async def _pyro_fill(storage, pyrogram, raw, major, user_id, peers=True, test_mode=False,
                     is_bot=False):
    await storage.dc_id(DC_ID)
    if major >= 2:
        await storage.api_id(API_ID)
    await storage.test_mode(test_mode)
    await storage.auth_key(AUTH_KEY)
    await storage.user_id(user_id)
    await storage.is_bot(is_bot)
    if peers:
        # The library's own User/Chat/Channel -> peers-row conversion.
        stub = pytypes.SimpleNamespace(storage=storage)
        await pyrogram.Client.fetch_peers(stub, pyrogram_tl_objects(raw))
        rows = storage.conn.execute(
            "SELECT id, access_hash, type, username, phone_number FROM peers").fetchall()
        storage.conn.executemany(
            "REPLACE INTO peers (id, access_hash, type, username, phone_number, last_update_on)"
            " VALUES (?, ?, ?, ?, ?, ?)", [r + (PYRO_DATE,) for r in rows])
    await storage.save()            # commits; sets date = now
    await storage.date(PYRO_DATE)   # library setter, commits


async def _pyro_read_storage(storage, major):
    d = dict(dc_id=await storage.dc_id(), test_mode=await storage.test_mode(),
             auth_key_hex=key_hex(await storage.auth_key()), user_id=await storage.user_id(),
             is_bot=await storage.is_bot(), date=await storage.date())
    if major >= 2:
        d["api_id"] = await storage.api_id()
    return d


async def _pyro_read_peers(storage, raw):
    out = {}
    for r in storage.conn.execute("SELECT id, username, phone_number FROM peers ORDER BY id"):
        p = await storage.get_peer_by_id(r[0])
        fields = {k: getattr(p, k) for k in p.__slots__}
        out[str(r[0])] = dict(input_peer=type(p).__name__, **fields)
        if r[2]:
            q = await storage.get_peer_by_phone_number(r[2])
            assert {k: getattr(q, k) for k in q.__slots__} == fields, (q, p)
    return out


def gen_pyrogram(out, readback):
    import pyrogram
    from pyrogram import raw
    from pyrogram.storage import FileStorage, MemoryStorage

    version = pyrogram.__version__
    major = int(version.split(".")[0])
    name = f"pyrogram-{version}"
    path = out / f"{name}.session"
    if path.exists():
        path.unlink()

    async def run():
        fs = FileStorage(name, workdir=out)
        await fs.open()
        await _pyro_fill(fs, pyrogram, raw, major, SELF_ID)
        await fs.close()
        # VACUUM after our REPLACE so the file layout does not depend on the row history.
        con = sqlite3.connect(path)
        con.execute("VACUUM")
        con.close()

        rb = {}
        fs = FileStorage(name, workdir=out)
        await fs.open()  # runs the library's update(); a no-op at its own version
        rb[path.name] = dict(library=f"pyrogram {version}", storage_version=fs.version(),
                             **await _pyro_read_storage(fs, major),
                             peers=await _pyro_read_peers(fs, raw))
        await fs.close()

        strings = {}
        if major >= 2:
            ms = MemoryStorage(":memory:")
            await ms.open()
            await _pyro_fill(ms, pyrogram, raw, major, SELF_ID, peers=False)
            strings["pyrogram-2.string"] = await ms.export_session_string()
            # A test-mode bot: its key belongs to Telegram's test DCs only.
            ms = MemoryStorage(":memory:")
            await ms.open()
            await _pyro_fill(ms, pyrogram, raw, major, SELF_ID, peers=False, test_mode=True,
                             is_bot=True)
            strings["pyrogram-2-test.string"] = await ms.export_session_string()
        else:
            for fname, uid in (("pyrogram-1-uid32.string", SELF_ID),
                               ("pyrogram-1-uid64.string", SELF_ID_64)):
                ms = MemoryStorage(":memory:")
                await ms.open()
                await _pyro_fill(ms, pyrogram, raw, major, uid, peers=False)
                strings[fname] = await ms.export_session_string()
        for fname, s in strings.items():
            (out / fname).write_text(s)
            ms = MemoryStorage(s) if major < 2 else MemoryStorage("x", session_string=s)
            await ms.open()
            rb[fname] = dict(library=f"pyrogram {version}", length=len(s),
                             **await _pyro_read_storage(ms, major))
            print(f"wrote {out / fname} ({len(s)} chars, pyrogram {version})")
        return rb

    rb = asyncio.run(run())
    for k, v in rb.items():
        write_json(readback / f"{k}.json", v)
    print(f"wrote {path} (pyrogram {version}, storage version {rb[path.name]['storage_version']})")


def gen_pyrogram_migrated(out, readback):
    """Pyrogram 2.x opening a 1.4.16 file: update() runs ALTER TABLE sessions ADD api_id."""
    import pyrogram
    from pyrogram import raw
    from pyrogram.storage import FileStorage, MemoryStorage

    version = pyrogram.__version__
    assert int(version.split(".")[0]) >= 2, "run pyrogram-migrated with Pyrogram 2.x"
    src = out / "pyrogram-1.4.16.session"
    name = f"pyrogram-1.4.16-migrated-{version}"
    path = out / f"{name}.session"
    shutil.copyfile(src, path)

    async def run():
        fs = FileStorage(name, workdir=out)
        await fs.open()                # migrates version 2 -> 3
        await fs.api_id(API_ID)        # what Client does after asking the user for api_id
        await fs.close()
        fs = FileStorage(name, workdir=out)
        await fs.open()
        rb = dict(library=f"pyrogram {version}", storage_version=fs.version(),
                  **await _pyro_read_storage(fs, 2), peers=await _pyro_read_peers(fs, raw))
        await fs.close()
        # How Pyrogram 2.x reads the old strings.
        for fname in ("pyrogram-1-uid32.string", "pyrogram-1-uid64.string"):
            f = out / fname
            if f.exists():
                ms = MemoryStorage("x", session_string=f.read_text())
                await ms.open()
                write_json(readback / f"{fname}.read-by-{version}.json",
                           dict(library=f"pyrogram {version}", **await _pyro_read_storage(ms, 1)))
        return rb

    rb = asyncio.run(run())
    write_json(readback / f"{path.name}.json", rb)
    print(f"wrote {path} (pyrogram {version} migration of pyrogram-1.4.16.session)")


# ---------------------------------------------------------------- GramJS
def gen_gramjs(out, readback):
    params = dict(dc_id=DC_ID, port=PORT, auth_key_hex=AUTH_KEY.hex(),
                  addresses={"gramjs-ipv4.string": IPV4, "gramjs-ipv6.string": IPV6},
                  foreign={n: (out / n).read_text() for n in
                           ("telethon-ipv4.string", "telethon-ipv6.string") if (out / n).exists()})
    env = dict(os.environ)
    if "GRAMJS_NODE_MODULES" in env:
        env["NODE_PATH"] = env["GRAMJS_NODE_MODULES"]
    res = subprocess.run(["node", str(HERE / "gramjs_string.js"), json.dumps(params)],
                         env=env, check=True, capture_output=True, text=True)
    data = json.loads(res.stdout)
    for name, s in data["strings"].items():
        (out / name).write_text(s)
        print(f"wrote {out / name} ({len(s)} chars, GramJS {data['gramjs_version']})")
    for name, r in data["readback"].items():
        tag = name if name.startswith("gramjs") else f"{name}.read-by-gramjs"
        write_json(readback / f"{tag}.json", dict(library=f"gramjs {data['gramjs_version']}", **r))


TARGETS = {
    "telethon": gen_telethon,
    "telethon-strings": gen_telethon_strings,
    "pyrogram": gen_pyrogram,
    "pyrogram-migrated": gen_pyrogram_migrated,
    "gramjs": gen_gramjs,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("target", choices=sorted(TARGETS))
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--readback", type=Path,
                    default=Path(os.environ.get("FIXTURE_READBACK_DIR", "/tmp/fixture-readback")))
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    a.readback.mkdir(parents=True, exist_ok=True)
    TARGETS[a.target](a.out.resolve(), a.readback.resolve())


if __name__ == "__main__":
    sys.exit(main())
