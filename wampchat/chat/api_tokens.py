"""``chat.user.create_token``, ``chat.user.tokens`` and ``chat.user.revoke_token`` (API §11): an account's
API tokens, each shown once when made and stored only as a hash (:mod:`wampchat.router.tokens`)."""
from wampchat.chat.context import ChatContext
from wampchat.chat.errors import CONFLICT, FORBIDDEN, INVALID, NOT_FOUND, fail
from wampchat.router.tokens import new_token
from wampchat.storage.chat.tokens import TooManyTokens

TOKEN_NAME_MAX = 64


def check_token_name(value: object) -> str:
    """A token's name (stripped): what its owner calls it in the list; "api" when none is given."""
    if value is None:
        return "api"
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= TOKEN_NAME_MAX or not value.isprintable():
        fail(INVALID, f"name must be a printable string of 1..{TOKEN_NAME_MAX} characters")
    return value.strip()


class ApiTokens:
    """An account's API tokens; guests have none."""

    def __init__(self, ctx: ChatContext) -> None:
        self._ctx = ctx

    def procedures(self) -> dict:
        return {"chat.user.create_token": self.create_token, "chat.user.tokens": self.tokens,
                "chat.user.revoke_token": self.revoke_token}

    async def _owner(self, details) -> str:
        """The caller's username; forbidden for guests (a token is an account's)."""
        caller = await self._ctx.caller(details)
        if caller.role == "guest" or caller.user.startswith(("guest_", "hook_")):
            fail(FORBIDDEN, "only a registered account has API tokens")
        return caller.user

    async def create_token(self, name=None, details=None) -> dict:
        user = await self._owner(details)
        name = check_token_name(name)
        token_id, token, token_hash = new_token()
        try:
            await self._ctx.store.add_token(token_id, user, name, token_hash, self._ctx.now())
        except TooManyTokens as e:
            fail(CONFLICT, str(e))
        return {"id": token_id, "name": name, "token": token}

    async def tokens(self, details=None) -> list:
        return await self._ctx.store.tokens_of(await self._owner(details))

    async def revoke_token(self, token_id=None, details=None) -> dict:
        user = await self._owner(details)
        if not isinstance(token_id, str) or not await self._ctx.store.revoke_token(user, token_id):
            fail(NOT_FOUND, "you have no token with this id")
        return {"id": token_id, "revoked": True}
