#!/usr/bin/env python3
"""Write tests/fixtures/formats/EXPECTED.json from the fixture files themselves.

Standard library only (any python3). Every value is read from the fixture bytes with sqlite3
(read-only) or base64/struct, then cross-checked twice before anything is written:
  1. against the fake data that generate.py fed to the libraries (its constants), and
  2. against what the real libraries read back from the same files (the JSON files that
     generate.py left in --readback, default $FIXTURE_READBACK_DIR or /tmp/fixture-readback).
Any disagreement aborts with a message and writes nothing.

    python make_expected.py [--out DIR] [--readback DIR]
"""
import argparse
import base64
import ipaddress
import json
import os
import sqlite3
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate as G  # noqa: E402  (stdlib-only at import time)

KEY_HEX = G.AUTH_KEY.hex()
CHANNEL_OFFSET = 1000000000000
ERRORS = []


def check(cond, msg):
    if not cond:
        ERRORS.append(msg)


def sqltype(con, v):
    return con.execute("SELECT typeof(?)", (v,)).fetchone()[0]


def marked_kind(marked):
    if marked > 0:
        return "user"
    if marked <= -CHANNEL_OFFSET:
        return "channel"
    if marked < 0:
        return "chat"
    return "self_marker"


def bare(marked):
    if marked <= -CHANNEL_OFFSET:
        return -marked - CHANNEL_OFFSET
    return abs(marked)


def source_kinds():
    """marked id -> what kind of fake TL object produced it (not stored by Telethon)."""
    out = {}
    for u in G.USERS:
        out[u["id"]] = "bot" if u["bot"] else ("self" if u["is_self"] else "user")
    for c in G.CHATS:
        out[-c["id"] if c["kind"] == "chat" else -(CHANNEL_OFFSET + c["id"])] = c["kind"]
    out[0] = "self_marker"
    return out


def columns(con, table):
    return [r[1] for r in con.execute(f"PRAGMA table_info({table})")]


def schema(con):
    return [r[0] for r in con.execute(
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")]


def load_readback(rbdir, name):
    p = rbdir / f"{name}.json"
    check(p.exists(), f"{name}: no library read-back at {p} (run generate.py first)")
    return json.loads(p.read_text()) if p.exists() else {}


# ---------------------------------------------------------------- Telethon v1 SQLite
def telethon_session(path, rb):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    (version,) = con.execute("SELECT version FROM version").fetchone()
    cols = columns(con, "sessions")
    rows = con.execute("SELECT * FROM sessions").fetchall()
    check(len(rows) == 1, f"{path.name}: {len(rows)} sessions rows")
    srow = dict(zip(cols, rows[0]))
    e = dict(format="telethon-v1-sqlite", generated_by=rb.get("library"), schema_version=version,
             sessions_columns=cols, schema=schema(con),
             dc_id=srow["dc_id"], server_address=srow["server_address"], port=srow["port"],
             auth_key_hex=srow["auth_key"].hex(), takeout_id=srow["takeout_id"])
    if "tmp_auth_key" in cols:
        e["tmp_auth_key_hex"] = srow["tmp_auth_key"].hex() if srow["tmp_auth_key"] is not None else None
    kinds = source_kinds()
    ents = []
    for r in con.execute("SELECT id, hash, username, phone, name, date FROM entities ORDER BY id"):
        i, h, username, phone, name, date = r
        ents.append(dict(id=i, bare_id=bare(i), kind=marked_kind(i), source_kind=kinds.get(i),
                         hash=h, username=username, phone=phone, name=name, date=date,
                         date_sqlite_type=sqltype(con, date), phone_sqlite_type=sqltype(con, phone)))
    e["entities"] = ents
    self_rows = [x for x in ents if x["id"] == 0]
    e["self_user_id"] = self_rows[0]["hash"] if self_rows else None
    us = con.execute("SELECT id, pts, qts, date, seq FROM update_state ORDER BY id").fetchall()
    acc = [u for u in us if u[0] == 0]
    e["update_state"] = dict(zip(("pts", "qts", "date", "seq"), acc[0][1:])) if acc else None
    e["channel_states"] = [dict(channel_id=u[0], pts=u[1], qts=u[2], date=u[3], seq=u[4],
                                date_sqlite_type=sqltype(con, u[3])) for u in us if u[0] != 0]
    e["sent_files_rows"] = con.execute("SELECT count(*) FROM sent_files").fetchone()[0]
    con.close()

    # 1. against the intended fake data
    n = path.name
    check(e["dc_id"] == G.DC_ID and e["server_address"] == G.IPV4 and e["port"] == G.PORT, f"{n}: dc")
    check(e["auth_key_hex"] == KEY_HEX, f"{n}: auth key")
    check(e["self_user_id"] == G.SELF_ID, f"{n}: self id")
    check(e["update_state"] == G.STATE, f"{n}: update state {e['update_state']}")
    check(sorted((c["channel_id"], c["pts"], c["date"]) for c in e["channel_states"])
          == sorted(G.CHANNEL_STATES), f"{n}: channel states")
    by_id = {x["id"]: x for x in ents}
    for u in G.USERS:
        x = by_id.get(u["id"], {})
        check(x.get("hash") == u["access_hash"], f"{n}: user {u['id']} hash")
        check(x.get("username") == (u["username"].lower() if u["username"] else None), f"{n}: username {u['id']}")
        check(x.get("phone") == (int(u["phone"]) if u["phone"] else None), f"{n}: phone {u['id']}")
        want_name = " ".join(p for p in (u["first_name"], u["last_name"]) if p)
        check(x.get("name") == want_name, f"{n}: name {u['id']}")
        want_date = G.REAL_DATE if u["id"] == G.REAL_DATE_USER_ID else G.T_USERS
        check(x.get("date") == want_date, f"{n}: date {u['id']}")
    for c in G.CHATS:
        m = -c["id"] if c["kind"] == "chat" else -(CHANNEL_OFFSET + c["id"])
        x = by_id.get(m, {})
        check(x.get("hash") == c.get("access_hash", 0), f"{n}: chat {m} hash")
        check(x.get("name") == c["title"] and x.get("date") == G.T_CHATS, f"{n}: chat {m}")
        check(x.get("username") == c.get("username"), f"{n}: chat {m} username")
    check(len(ents) == len(G.USERS) + len(G.CHATS) + 1, f"{n}: {len(ents)} entities")

    # 2. against the library's own read-back
    for k in ("dc_id", "server_address", "port", "auth_key_hex", "takeout_id", "self_user_id",
              "schema_version"):
        check(rb.get(k) == e[k], f"{n}: library read {k}={rb.get(k)!r}, sqlite3 read {e[k]!r}")
    check(rb.get("update_state") == e["update_state"], f"{n}: library update state")
    check(rb.get("channel_states") == [dict(channel_id=c["channel_id"], pts=c["pts"], date=c["date"])
                                       for c in e["channel_states"]], f"{n}: library channel states")
    for k, v in rb.get("entities_by_id", {}).items():
        check(v == [int(k), by_id[int(k)]["hash"]], f"{n}: library entity {k}")
    for k, v in rb.get("entities_by_username", {}).items():
        x = by_id[v[0]]
        check(x["username"] == k and x["hash"] == v[1], f"{n}: library username {k}")
    for k, v in rb.get("entities_by_phone", {}).items():
        check(by_id[v[0]]["phone"] == int(k), f"{n}: library phone {k}")
    return e


# ---------------------------------------------------------------- Pyrogram SQLite
def pyrogram_session(path, rb):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    (version,) = con.execute("SELECT number FROM version").fetchone()
    cols = columns(con, "sessions")
    rows = con.execute("SELECT * FROM sessions").fetchall()
    check(len(rows) == 1, f"{path.name}: {len(rows)} sessions rows")
    s = dict(zip(cols, rows[0]))
    e = dict(format="pyrogram-sqlite", generated_by=rb.get("library"), storage_version=version,
             sessions_columns=cols, has_api_id_column="api_id" in cols, schema=schema(con),
             dc_id=s["dc_id"], api_id=s.get("api_id"), test_mode=s["test_mode"],
             auth_key_hex=s["auth_key"].hex(), date=s["date"], user_id=s["user_id"],
             is_bot=s["is_bot"])
    e["peers"] = [dict(id=r[0], bare_id=bare(r[0]), access_hash=r[1], type=r[2], username=r[3],
                       phone_number=r[4], last_update_on=r[5], type_sqlite_type=sqltype(con, r[2]))
                  for r in con.execute("SELECT id, access_hash, type, username, phone_number,"
                                       " last_update_on FROM peers ORDER BY id")]
    con.close()

    n = path.name
    check(e["dc_id"] == G.DC_ID and e["auth_key_hex"] == KEY_HEX, f"{n}: dc/key")
    check(e["test_mode"] == 0 and e["is_bot"] == 0 and e["user_id"] == G.SELF_ID, f"{n}: flags")
    check(e["date"] == G.PYRO_DATE, f"{n}: date")
    check(e["api_id"] == (G.API_ID if e["has_api_id_column"] else None), f"{n}: api_id")
    want = {}
    for u in G.USERS:
        want[u["id"]] = (u["access_hash"], "bot" if u["bot"] else "user",
                         u["username"].lower() if u["username"] else None, u["phone"])
    for c in G.CHATS:
        if c["kind"] == "chat":
            want[-c["id"]] = (0, "group", None, None)
        else:
            want[-(CHANNEL_OFFSET + c["id"])] = (c["access_hash"], "channel" if c["kind"] == "broadcast"
                                                 else "supergroup", c["username"], None)
    got = {p["id"]: (p["access_hash"], p["type"], p["username"], p["phone_number"]) for p in e["peers"]}
    check(got == want, f"{n}: peers {got} != {want}")
    check(all(p["last_update_on"] == G.PYRO_DATE for p in e["peers"]), f"{n}: last_update_on")

    for k in ("dc_id", "test_mode", "auth_key_hex", "user_id", "is_bot", "date", "storage_version"):
        check(rb.get(k) == e[k], f"{n}: library read {k}={rb.get(k)!r}, sqlite3 read {e[k]!r}")
    if "api_id" in rb:
        check(rb["api_id"] == e["api_id"], f"{n}: library api_id")
    for pid, ip in rb.get("peers", {}).items():
        pid = int(pid)
        a = got[pid]
        if ip["input_peer"] == "InputPeerChat":
            check(ip["chat_id"] == -pid and a[1] == "group", f"{n}: library peer {pid}")
        elif ip["input_peer"] == "InputPeerChannel":
            check(ip["channel_id"] == bare(pid) and ip["access_hash"] == a[0], f"{n}: library peer {pid}")
        else:
            check(ip["user_id"] == pid and ip["access_hash"] == a[0], f"{n}: library peer {pid}")
    check(len(rb.get("peers", {})) == len(got), f"{n}: library peer count")
    return e


# ---------------------------------------------------------------- strings
def b64_variant(s):
    std = any(ch in s for ch in "+/")
    url = any(ch in s for ch in "-_")
    check(not (std and url), "mixed base64 alphabets")
    return "standard" if std else ("urlsafe" if url else "either (no alphabet-specific chars)")


def telethon_string(path, rb, rb_gramjs):
    s = path.read_text()
    check(s[0] == "1", f"{path.name}: prefix")
    raw = base64.urlsafe_b64decode(s[1:])
    ip_len = 4 if len(s) - 1 == 352 else 16
    fmt = f">B{ip_len}sH256s"
    dc, ip, port, key = struct.unpack(fmt, raw)
    e = dict(format="telethon-string", generated_by=rb.get("library"), length_chars=len(s),
             prefix="1", base64_alphabet=b64_variant(s[1:]), padding=s.count("="),
             decoded_length_bytes=len(raw), struct=fmt, ip_family=f"ipv{4 if ip_len == 4 else 6}",
             dc_id=dc, server_address=ipaddress.ip_address(ip).compressed, port=port,
             auth_key_hex=key.hex(), user_id=None)
    n = path.name
    check(e["server_address"] == (G.IPV4 if ip_len == 4 else G.IPV6), f"{n}: ip")
    check(dc == G.DC_ID and port == G.PORT and key == G.AUTH_KEY, f"{n}: fields")
    check(base64.urlsafe_b64encode(raw).decode() == s[1:], f"{n}: not canonical urlsafe padded")
    for src, r in (("telethon", rb), ("gramjs", rb_gramjs)):
        for k in ("dc_id", "server_address", "port", "auth_key_hex"):
            check(r.get(k) == e[k], f"{n}: {src} read {k}={r.get(k)!r} vs {e[k]!r}")
    e["read_by_gramjs"] = {k: rb_gramjs.get(k) for k in ("dc_id", "server_address", "port")}
    return e


def gramjs_string(path, rb):
    s = path.read_text()
    check(s[0] == "1", f"{path.name}: prefix")
    raw = base64.b64decode(s[1:], validate=True)
    check(base64.b64encode(raw).decode() == s[1:], f"{path.name}: not canonical standard base64")
    dc = raw[0]
    (alen,) = struct.unpack(">h", raw[1:3])
    addr = raw[3:3 + alen].decode("utf-8")
    (port,) = struct.unpack(">h", raw[3 + alen:5 + alen])
    key = raw[5 + alen:]
    e = dict(format="gramjs-string", generated_by=rb.get("library"), length_chars=len(s),
             prefix="1", base64_alphabet=b64_variant(s[1:]), padding=s.count("="),
             decoded_length_bytes=len(raw), struct=f">Bh{alen}sh256s (address as UTF-8 text)",
             address_length=alen, dc_id=dc, server_address=addr, port=port, auth_key_hex=key.hex(),
             user_id=None)
    n = path.name
    check(addr in (G.IPV4, G.IPV6) and dc == G.DC_ID and port == G.PORT and key == G.AUTH_KEY, f"{n}: fields")
    for k in ("dc_id", "server_address", "port", "auth_key_hex"):
        check(rb.get(k) == e[k], f"{n}: gramjs read {k}={rb.get(k)!r} vs {e[k]!r}")
    return e


def pyrogram_string(path, rb, rb_v2=None):
    s = path.read_text()
    raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    check(base64.urlsafe_b64encode(raw).decode().rstrip("=") == s, f"{path.name}: not canonical")
    fmt = {271: ">BI?256sQ?", 263: ">B?256sI?", 267: ">B?256sQ?"}[len(raw)]
    vals = struct.unpack(fmt, raw)
    if len(raw) == 271:
        dc, api_id, test_mode, key, uid, is_bot = vals
        fmtname = "pyrogram-string-v2"
    else:
        dc, test_mode, key, uid, is_bot = vals
        api_id = None
        fmtname = "pyrogram-string-old-uid32" if len(raw) == 263 else "pyrogram-string-old-uid64"
    e = dict(format=fmtname, generated_by=rb.get("library"), length_chars=len(s), prefix=None,
             base64_alphabet=b64_variant(s), padding=0, decoded_length_bytes=len(raw), struct=fmt,
             dc_id=dc, api_id=api_id, test_mode=test_mode, auth_key_hex=key.hex(), user_id=uid,
             is_bot=is_bot)
    n = path.name
    want_uid = G.SELF_ID_64 if "uid64" in n else G.SELF_ID
    test = "-test" in n  # the test-mode bot string
    check(dc == G.DC_ID and key == G.AUTH_KEY and uid == want_uid and test_mode == test
          and is_bot == test, f"{n}: fields")
    check(api_id == (G.API_ID if len(raw) == 271 else None), f"{n}: api_id")
    for src, r in (("own", rb), ("pyrogram 2.x", rb_v2 or {})):
        if not r:
            continue
        for k in ("dc_id", "auth_key_hex", "user_id"):
            check(r.get(k) == e[k], f"{n}: {src} read {k}={r.get(k)!r} vs {e[k]!r}")
        check(bool(r.get("test_mode")) == test_mode and bool(r.get("is_bot")) == is_bot, f"{n}: {src} flags")
        if "api_id" in r:
            check(r["api_id"] == api_id, f"{n}: {src} api_id")
    return e


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=G.DEFAULT_OUT)
    ap.add_argument("--readback", type=Path,
                    default=Path(os.environ.get("FIXTURE_READBACK_DIR", "/tmp/fixture-readback")))
    a = ap.parse_args()
    out, rbd = a.out, a.readback
    fx = {}
    for name in ("telethon-1.45.session", "telethon-1.42.session"):
        fx[name] = telethon_session(out / name, load_readback(rbd, name))
    for name in ("pyrogram-2.0.106.session", "pyrogram-1.4.16.session",
                 "pyrogram-1.4.16-migrated-2.0.106.session"):
        fx[name] = pyrogram_session(out / name, load_readback(rbd, name))
    for name in ("telethon-ipv4.string", "telethon-ipv6.string"):
        fx[name] = telethon_string(out / name, load_readback(rbd, name),
                                   load_readback(rbd, f"{name}.read-by-gramjs"))
    for name in ("gramjs-ipv4.string", "gramjs-ipv6.string"):
        fx[name] = gramjs_string(out / name, load_readback(rbd, name))
    for name in ("pyrogram-2.string", "pyrogram-2-test.string"):
        fx[name] = pyrogram_string(out / name, load_readback(rbd, name))
    for name in ("pyrogram-1-uid32.string", "pyrogram-1-uid64.string"):
        fx[name] = pyrogram_string(out / name, load_readback(rbd, name),
                                   load_readback(rbd, f"{name}.read-by-2.0.106"))
    if ERRORS:
        print("EXPECTED.json NOT written; mismatches:\n  " + "\n  ".join(ERRORS), file=sys.stderr)
        return 1
    doc = {
        "_about": [
            "Values a correct importer must produce for each file in this folder, read from the "
            "files with sqlite3/base64 and cross-checked against the real libraries' own read-back "
            "(fixtures-gen/python/make_expected.py). All data is fake.",
            "auth_key of every fixture: bytes((i*7+3) % 256 for i in range(256)), hex in auth_key_hex.",
            "Telethon entities: id is the marked id as stored (user +id, chat -id, channel "
            "-(1000000000000+id)); kind is what the id tells (user/chat/channel; id 0 = self_marker "
            "whose hash is the own user id); source_kind is the fake TL object it came from "
            "(self/user/bot/chat/broadcast/megagroup), which Telethon does not store. phone is "
            "stored as INTEGER by Telethon, as TEXT by Pyrogram. date_sqlite_type 'real' marks "
            "fractional dates an importer must accept.",
            "Pyrogram: test_mode/is_bot are stored as INTEGER 0/1; api_id is null where the file "
            "has no api_id column (storage version 2) or the string format has none.",
            "Telethon v2 (.session version 10): not generated, no Telethon 2.x is published on PyPI.",
        ],
        "auth_key_hex": KEY_HEX,
        "fixtures": fx,
    }
    (out / "EXPECTED.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out / 'EXPECTED.json'} ({len(fx)} fixtures, all cross-checks passed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
