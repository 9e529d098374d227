"""sessiondb as Telethon's session storage: ``Session`` for Telethon 1.x (``telethon1``),
``Storage`` for Telethon 2 (``telethon2``)::

    from sessiondb.telethon import Session
    client = TelegramClient(Session("bot"), api_id, api_hash)
"""

from .telethon2 import Storage

try:
    from .telethon1 import Session
except ImportError:
    import telethon

    # Telethon 2 has no 1.x session ABC: only Storage applies there.
    if str(getattr(telethon, "__version__", "1")).startswith("1."):
        raise

__all__ = ["Session", "Storage"]
