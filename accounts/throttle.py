"""Sign-in rate limiting: failures are counted per account and per client address (moving windows).

Per account it stops guessing one reader's password from many addresses; per address it stops one
client trying many accounts, with a limit high enough that a whole campus behind one NAT address is
not locked out by a few readers mistyping. Only failures count, so readers who sign in are never
slowed down. The counters live in the process (``memory://``) or in Redis (``redis://...``) when
several workers serve the pages.
"""

from __future__ import annotations

import hashlib

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


class SignInThrottle:
    def __init__(self, per_account: str = "5/15 minutes", per_client: str = "50/15 minutes",
                 storage: str = "memory://") -> None:
        self.per_account, self.per_client = parse(per_account), parse(per_client)
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage))

    @staticmethod
    def _account_key(member_code: str, username: str) -> str:
        # hashed: the storage (possibly a shared Redis) never holds readers' usernames
        return hashlib.sha256(f"{member_code}\0{username.casefold()}".encode()).hexdigest()[:32]

    def allowed(self, member_code: str, username: str, client: str) -> bool:
        return (self.limiter.test(self.per_account, "signin-account", self._account_key(member_code, username))
                and self.limiter.test(self.per_client, "signin-client", client))

    def failed(self, member_code: str, username: str, client: str) -> None:
        self.limiter.hit(self.per_account, "signin-account", self._account_key(member_code, username))
        self.limiter.hit(self.per_client, "signin-client", client)
