"""Local accounts: an argon2 hash in ``ill_account``, for members without a system of their own."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.identity import Identity
from accounts.models import Account

_hasher = PasswordHasher()
#: Verifying against this keeps unknown usernames as slow as wrong passwords.
_DUMMY_HASH = _hasher.hash("not a password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def find_account(session: Session, member_code: str, username: str) -> Account | None:
    return session.scalar(select(Account).where(Account.member_code == member_code, Account.username == username))


class LocalAuthenticator:
    def authenticate(self, session: Session, member_code: str, username: str, password: str) -> Identity | None:
        account = find_account(session, member_code, username)
        stored = account.password_hash if account and account.password_hash else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if account is None or not account.password_hash:
            return None
        return Identity(account.username, account.display_name, account.email, source="local")
