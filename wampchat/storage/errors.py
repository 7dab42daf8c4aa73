"""What can go wrong with the database, in terms the rest of wampchat can act on."""


class StoreError(Exception):
    """Base of the storage errors."""


class StartupError(StoreError):
    """The database cannot be used at all (bad URL, unreachable, wrong schema): stop with this one line."""


class StoreUnavailable(StoreError):
    """The database went away or failed mid-operation; the operation did not commit. Try again later."""


class Conflict(StoreError):
    """A uniqueness rule refused the write (e.g. a username that is taken)."""
