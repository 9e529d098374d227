"""One exception class per kind of sessiondb error; the message is the engine's, unchanged.
Every class is a ``SessiondbError``; I/O errors are also ``OSError`` and bad arguments also
``ValueError``. No message carries an auth key or other session contents."""


class SessiondbError(Exception):
    """Base of every sessiondb error."""


class StoreIoError(SessiondbError, OSError):
    """An operating-system I/O call failed."""


class LockedError(SessiondbError):
    """Another writer (another process, or another open in this one) holds the store."""


class ForeignFormatError(SessiondbError):
    """The path holds another library's session file (convert it with the CLI)."""


class CorruptError(SessiondbError):
    """Stored bytes are damaged where they were once known to be durable."""


class CorruptValueError(SessiondbError):
    """A stored value could not be decoded."""


class LatchedError(SessiondbError):
    """An earlier failure latched the store; reopen it."""


class InternalError(SessiondbError):
    """A bug in sessiondb: please report it."""


class ClosedError(SessiondbError):
    """The store was closed."""


class ReadOnlyError(SessiondbError):
    """A write on a store opened read-only."""


class InvalidArgumentError(SessiondbError, ValueError):
    """A value given to sessiondb is not acceptable."""


class UnsupportedVersionError(SessiondbError):
    """The store was written by a newer format version."""


class StoreIndexError(SessiondbError):
    """The store's index (redb) reported an error."""


class FormatError(SessiondbError):
    """Another library's session could not be read or written."""


class AmbiguousFormatError(SessiondbError):
    """An input could be more than one format."""


class MissingFieldError(SessiondbError):
    """An export needs a value the session does not hold."""


class WrongPassphraseError(SessiondbError):
    """The passphrase does not unlock the store."""


class PassphraseRequiredError(SessiondbError):
    """The store is encrypted and no passphrase was given."""


class AccountLockedError(SessiondbError):
    """Another worker holds the account's lease (shared backend)."""


class LeaseLostError(SessiondbError):
    """This worker's lease was lost; the write was refused (shared backend)."""


class ServerError(SessiondbError):
    """The database server reported an error (shared backend)."""


class ForeignOwnerError(SessiondbError):
    """The store or file belongs to another user."""
