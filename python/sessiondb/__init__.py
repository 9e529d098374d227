"""sessiondb for Python: crash-safe storage for Telegram sessions, built on the sessiondb Rust
engine (Linux only for now).

- ``Store(path, passphrase=None, read_only=False)``: the file store at ``path``
  (``bot`` → ``bot.session/``); ``Store.memory()`` keeps everything in memory.
- ``store.account(name)``: one account; its reads return at once, its writes return an
  ``Ack`` (``ack.wait()`` blocks with the GIL released; ``settle(ack)`` gives an awaitable
  inside a running event loop).
- ``sessiondb.telethon.Session``: Telethon 1.x's session; ``sessiondb.telethon.Storage``:
  Telethon 2's ``Storage``.
- ``sessiondb.errors``: one exception class per error kind, all ``SessiondbError``.
"""

import atexit

from . import errors
from ._ack import settle, settle_all
from ._native import AUTH_KEY_LEN, DEFAULT_ACCOUNT, Account, Ack, Store, shutdown
from .errors import SessiondbError

# Keeps the acknowledgement thread out of the interpreter once it starts to finalize.
atexit.register(shutdown)

__all__ = [
    "AUTH_KEY_LEN",
    "DEFAULT_ACCOUNT",
    "Account",
    "Ack",
    "SessiondbError",
    "Store",
    "errors",
    "settle",
    "settle_all",
]
