#!/usr/bin/env python3
"""Check a Telethon v1 `.session` file (e.g. one that sessiondb exported) with the real Telethon.

    python check_telethon_export.py <path-to-.session> <expected.json> [--fixture NAME]

Run it in the Telethon 1.45.0 virtualenv (see README.md). No network: it only constructs
telethon.sessions.SQLiteSession on a temporary COPY of the file (Telethon upgrades older
schema versions in place on open, and we never modify the input) and asks it questions.
Exit status 0 when everything matches, 1 on any mismatch (each one is listed), 2 on usage
errors. Output is a summary only; key bytes are never printed.

JSON format (one object; every key except the first four is optional and is only checked
when present). The per-fixture objects in tests/fixtures/formats/EXPECTED.json use exactly
this shape, so that file can be passed directly: when the JSON has a top-level "fixtures"
map, the entry named by --fixture (default: the basename of the .session path) is used.

  dc_id            int     home DC                        (session.dc_id)
  server_address   str     "149.154.167.41" / IPv6 text   (session.server_address)
  port             int                                    (session.port)
  auth_key_hex     str     512 hex chars, or "" for none  (session.auth_key.key)
  schema_version   int     `version` row of the file as given (read with sqlite3 before
                           Telethon opens the copy)
  takeout_id       int|null                                (session.takeout_id)
  self_user_id     int     own user id: Telethon's get_input_entity(0).access_hash
  update_state     {pts, qts, date, seq}   account state: session.get_update_state(0);
                           date in unix seconds (int or float)
  channel_states   [{channel_id, pts, date?}]  session.get_update_state(channel_id); the set
                           of ids from get_update_states() must be exactly {0} + these ids
  entities         [{id, hash, username?, phone?, name?, date?, ...}]
                           id = marked id as stored (user +id, chat -id, channel
                           -(1000000000000+id)); hash = access hash (0 for chats; for the id-0
                           row, the own user id). For each entity other than id 0:
                             get_entity_rows_by_id(id) == (id, hash)
                             get_input_entity(id) is InputPeerUser/Chat/Channel with the bare
                               id and hash
                             username (lower case) -> get_entity_rows_by_username and
                               get_input_entity("@username") find it
                             phone (int or digit string) -> get_entity_rows_by_phone and
                               get_input_entity("+phone") find it
                             name, if unique among the entities -> get_entity_rows_by_name
                             date, if not null -> equals the stored `date` (sqlite3 read of
                               the copy; Telethon has no getter for it)
                           Other keys (kind, bare_id, source_kind, *_sqlite_type) are ignored.
  entities_exact   bool    default true: the file holds exactly these entity rows (by id)
"""
import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile

FAILS = []


def fail(msg):
    FAILS.append(msg)


def eq(what, got, want):
    if got != want:
        fail(f"{what}: got {got!r}, expected {want!r}")


def ts(v):
    return None if v is None else float(v)


def main():
    ap = argparse.ArgumentParser(description="Check a Telethon v1 .session with telethon itself")
    ap.add_argument("session")
    ap.add_argument("expected")
    ap.add_argument("--fixture", help="entry of a top-level 'fixtures' map (default: file basename)")
    a = ap.parse_args()

    try:
        import telethon
        from telethon.sessions import SQLiteSession
        from telethon.tl import types
    except ImportError:
        print("error: telethon is not importable; run in the telethon 1.45.0 venv", file=sys.stderr)
        return 2
    if not os.path.isfile(a.session):
        print(f"error: no such file: {a.session}", file=sys.stderr)
        return 2
    with open(a.expected, encoding="utf-8") as f:
        exp = json.load(f)
    if "fixtures" in exp:
        name = a.fixture or os.path.basename(a.session)
        if name not in exp["fixtures"]:
            print(f"error: {name!r} not in {a.expected} fixtures", file=sys.stderr)
            return 2
        exp = exp["fixtures"][name]
    for k in ("dc_id", "server_address", "port", "auth_key_hex"):
        if k not in exp:
            print(f"error: expected JSON lacks {k!r}", file=sys.stderr)
            return 2

    # Schema version of the file as given (before Telethon may upgrade the copy).
    src = sqlite3.connect(f"file:{os.path.abspath(a.session)}?mode=ro", uri=True)
    try:
        file_version = src.execute("SELECT version FROM version").fetchone()[0]
    except sqlite3.Error as e:
        fail(f"cannot read the version table: {e}")
        file_version = None
    finally:
        src.close()
    if "schema_version" in exp:
        eq("schema_version", file_version, exp["schema_version"])

    tmp = tempfile.mkdtemp(prefix="check-telethon-")
    try:
        copy = os.path.join(tmp, "copy.session")
        shutil.copyfile(a.session, copy)
        try:
            s = SQLiteSession(copy)
        except Exception as e:  # noqa: BLE001 - report any failure to open
            fail(f"telethon {telethon.__version__} cannot open the file: {type(e).__name__}: {e}")
            return report(a, exp, None)

        eq("dc_id", s.dc_id, exp["dc_id"])
        eq("server_address", s.server_address, exp["server_address"])
        eq("port", s.port, exp["port"])
        key = s.auth_key.key if s.auth_key and s.auth_key.key else b""
        want_key = bytes.fromhex(exp["auth_key_hex"])
        if key != want_key:
            off = next((i for i, (x, y) in enumerate(zip(key, want_key)) if x != y),
                       min(len(key), len(want_key)))
            fail(f"auth_key differs: {len(key)} bytes vs {len(want_key)} expected, "
                 f"first difference at offset {off}")
        if "takeout_id" in exp:
            eq("takeout_id", s.takeout_id, exp["takeout_id"])

        if "self_user_id" in exp:
            try:
                me = s.get_input_entity(0)
                eq("self_user_id (get_input_entity(0).access_hash)", me.access_hash, exp["self_user_id"])
            except ValueError:
                fail("self_user_id: no entity row with id 0")

        if "update_state" in exp:
            st = s.get_update_state(0)
            if st is None:
                fail("update_state: get_update_state(0) returned None")
            else:
                w = exp["update_state"]
                got = dict(pts=st.pts, qts=st.qts, date=st.date.timestamp(), seq=st.seq)
                eq("update_state", got, dict(pts=w["pts"], qts=w["qts"], date=ts(w["date"]), seq=w["seq"]))

        if "channel_states" in exp:
            for c in exp["channel_states"]:
                st = s.get_update_state(c["channel_id"])
                if st is None:
                    fail(f"channel {c['channel_id']}: no update_state row")
                    continue
                eq(f"channel {c['channel_id']} pts", st.pts, c["pts"])
                if c.get("date") is not None:
                    eq(f"channel {c['channel_id']} date", st.date.timestamp(), ts(c["date"]))
            ids = sorted(i for i, _ in s.get_update_states())
            eq("update_state ids", ids, sorted([0] * ("update_state" in exp)
                                               + [c["channel_id"] for c in exp["channel_states"]]))

        ents = exp.get("entities", [])
        if ents:
            check_entities(s, copy, ents, exp.get("entities_exact", True), types)
        s.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report(a, exp, file_version)


def check_entities(s, copy, ents, exact, types):
    names = [e.get("name") for e in ents if e.get("name")]
    for e in ents:
        i, h = e["id"], e["hash"]
        if i == 0:
            continue
        eq(f"entity {i} by id", tuple(s.get_entity_rows_by_id(i) or ()), (i, h))
        try:
            p = s.get_input_entity(i)
        except ValueError:
            fail(f"entity {i}: get_input_entity({i}) found nothing")
            p = None
        if p is not None:
            if i > 0:
                want = types.InputPeerUser(i, h)
            elif i <= -1000000000000:
                want = types.InputPeerChannel(-i - 1000000000000, h)
            else:
                want = types.InputPeerChat(-i)
            eq(f"entity {i} get_input_entity", p.to_dict(), want.to_dict())
        if e.get("username"):
            u = e["username"]
            eq(f"entity {i} by username {u!r}", tuple(s.get_entity_rows_by_username(u) or ()), (i, h))
            try:
                eq(f"entity {i} get_input_entity('@{u}')",
                   s.get_input_entity("@" + u).to_dict(), p.to_dict() if p else None)
            except ValueError:
                fail(f"entity {i}: get_input_entity('@{u}') found nothing")
        if e.get("phone") is not None:
            ph = str(e["phone"])
            eq(f"entity {i} by phone {ph}", tuple(s.get_entity_rows_by_phone(ph) or ()), (i, h))
            try:
                eq(f"entity {i} get_input_entity('+{ph}')",
                   s.get_input_entity("+" + ph).to_dict(), p.to_dict() if p else None)
            except ValueError:
                fail(f"entity {i}: get_input_entity('+{ph}') found nothing")
        if e.get("name") and names.count(e["name"]) == 1:
            eq(f"entity {i} by name", tuple(s.get_entity_rows_by_name(e["name"]) or ()), (i, h))

    s.save()
    con = sqlite3.connect(copy)
    try:
        rows = {r[0]: r for r in con.execute(
            "SELECT id, hash, username, phone, name, date FROM entities")}
    finally:
        con.close()
    for e in ents:
        r = rows.get(e["id"])
        if r is None:
            fail(f"entity {e['id']}: no row")
            continue
        eq(f"entity {e['id']} hash", r[1], e["hash"])
        if e["id"] == 0:
            continue
        if e.get("date") is not None:
            eq(f"entity {e['id']} date", r[5], e["date"])
        if "name" in e:
            eq(f"entity {e['id']} name", r[4], e["name"])
        if "username" in e:
            eq(f"entity {e['id']} username", r[2], e["username"])
        if "phone" in e:
            eq(f"entity {e['id']} phone", r[3], None if e["phone"] is None else int(e["phone"]))
    if exact:
        extra = sorted(set(rows) - {e["id"] for e in ents})
        if extra:
            fail(f"unexpected entity rows: {extra}")


def report(a, exp, file_version):
    base = os.path.basename(a.session)
    if FAILS:
        print(f"FAIL {base}: {len(FAILS)} mismatch(es) against {os.path.basename(a.expected)}")
        for m in FAILS:
            print(f"  - {m}")
        return 1
    n_ent = len(exp.get("entities", []))
    n_ch = len(exp.get("channel_states", []))
    print(f"OK {base}: schema {file_version}, dc {exp['dc_id']} at {exp['server_address']}:{exp['port']}, "
          f"auth key matches ({len(exp['auth_key_hex']) // 2} bytes), "
          f"self id {'checked' if 'self_user_id' in exp else 'not checked'}, {n_ent} entities, "
          f"update state {'checked' if 'update_state' in exp else 'not checked'}, {n_ch} channel states")
    return 0


if __name__ == "__main__":
    sys.exit(main())
