#!/usr/bin/env python3
"""Print, as one JSON object, what a real library reads from a session: the checks that it
would start logged in, offline (no network, nothing written to the input).

    python read_session.py KIND PATH [KEY_HEX_FILE]

KIND is telethon-file, telethon-string, pyrogram-file or pyrogram-string; run it in the
virtualenv of that library (Telethon 1.42 / 1.45, Pyrogram 2.0.106). PATH is the session
file, or a file holding the string. GramJS strings are read by read_gramjs.js.

Output keys: library, dc_id, address, port (where the library connects), auth_key_sha256
(never the key), user_id and is_bot (null where the format keeps none), test_mode (Pyrogram);
with KEY_HEX_FILE (a file holding the expected key in hex), auth_key_matches as well.
"""
import asyncio
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path


def digest(key):
    return hashlib.sha256(key).hexdigest() if key else None


def telethon(kind, path):
    import telethon
    from telethon.sessions import SQLiteSession, StringSession

    if kind == "telethon-string":
        s = StringSession(open(path, encoding="ascii").read().strip())
        user_id = None
    else:
        # Telethon upgrades an older schema in place on open: read a copy.
        tmp = tempfile.mkdtemp(prefix="read-telethon-")
        copy = os.path.join(tmp, "copy.session")
        shutil.copyfile(path, copy)
        s = SQLiteSession(copy)
        try:
            user_id = s.get_input_entity(0).access_hash  # the row its client writes for itself
        except ValueError:
            user_id = None
    key = s.auth_key.key if s.auth_key else None
    return dict(library=f"telethon {telethon.__version__}", dc_id=s.dc_id,
                address=s.server_address, port=s.port, auth_key_sha256=digest(key),
                user_id=user_id, is_bot=None, test_mode=None)


async def pyrogram(kind, path):
    import pyrogram
    from pyrogram.session.internals import DataCenter
    from pyrogram.storage import FileStorage, MemoryStorage

    if kind == "pyrogram-string":
        storage = MemoryStorage("reader", session_string=open(path, encoding="ascii").read().strip())
    else:
        # FileStorage names the file <name>.session in workdir, and may migrate it: a copy.
        tmp = tempfile.mkdtemp(prefix="read-pyrogram-")
        shutil.copyfile(path, os.path.join(tmp, "reader.session"))
        storage = FileStorage("reader", workdir=Path(tmp))
    await storage.open()
    dc_id, test_mode = await storage.dc_id(), await storage.test_mode()
    address, port = DataCenter(dc_id, test_mode, False, False)
    out = dict(library=f"pyrogram {pyrogram.__version__}", dc_id=dc_id, address=address,
               port=port, auth_key_sha256=digest(await storage.auth_key()),
               user_id=await storage.user_id(), is_bot=bool(await storage.is_bot()),
               test_mode=bool(test_mode))
    await storage.close()
    return out


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    kind, path = sys.argv[1], sys.argv[2]
    if kind.startswith("telethon-"):
        out = telethon(kind, path)
    elif kind.startswith("pyrogram-"):
        out = asyncio.run(pyrogram(kind, path))
    else:
        print(f"unknown kind {kind!r}", file=sys.stderr)
        return 2
    if len(sys.argv) == 4:
        want = bytes.fromhex(open(sys.argv[3], encoding="ascii").read().strip())
        out["auth_key_matches"] = out["auth_key_sha256"] == digest(want)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
