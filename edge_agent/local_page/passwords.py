"""The fallback page's local password: argon2id (memory-hard), set by `seat-edge install`."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id, 64 MiB, 3 passes: about 50 ms per check on the box
MIN_LENGTH = 8  # same as `seat-edge install`


class PasswordHashError(ValueError):
    """The stored hash is not an argon2 hash (a broken config), as opposed to a wrong password."""


def hash_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise ValueError(f"the local page password needs at least {MIN_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True for the right password, False for a wrong one; PasswordHashError for a broken hash."""
    try:
        return _hasher.verify(stored_hash, password)
    except VerifyMismatchError:
        return False
    except (InvalidHashError, VerificationError) as exc:
        raise PasswordHashError(f"local_ui.password_hash is not a valid argon2 hash ({exc}); "
                                "set it again with `seat-edge install`") from None
