"""Join tokens: how a new node proves it may join, and how it knows it found the right cluster.

Shaped like Docker Swarm's `SWMTKN-1-<ca digest>-<secret>`, plus the role::

    DYTKN-1-<CA digest: 50 base36 chars>-<m|a>-<secret: 25 base36 chars>

The joiner fetches the CA certificate from the manager without trusting it,
checks it with `pin_matches(ca_pem, token)`, and only then opens a TLS
connection verified against that CA and sends the secret. So a joiner pointed
at an impostor never gives its secret away.

The manager keeps only `hash_secret(token.secret)` per role and checks a
presented secret against the hash for the role the token names. Rotating a
role's token (`token.rotated()`) makes a new secret; the old one stops matching
as soon as the manager stores the new hash. Nodes that already joined keep
their certificates: a token is only needed to join.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

from dockyard.pki import CertificateRejected, Role, ca_digest

__all__ = [
    "InvalidJoinToken",
    "JoinToken",
    "SecretHash",
    "hash_secret",
    "pin_matches",
]

_PREFIX = "DYTKN"
_VERSION = "1"
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
# 36**50 > 2**256: a SHA-256 digest always fits in 50 base36 digits (Swarm pads to the same).
_DIGEST_CHARS = 50
# 128 random bits, as Swarm: unguessable online, and far beyond brute force even
# if the stored hashes leak, which is why a fast hash is enough for them.
_SECRET_BITS = 128
_SECRET_CHARS = 25  # 36**25 > 2**128
_ROLE_LETTERS = {Role.MANAGER: "m", Role.AGENT: "a"}
_LETTER_ROLES = {letter: role for role, letter in _ROLE_LETTERS.items()}
_BASE36 = re.compile(r"[0-9a-z]+\Z")  # ASCII only: int(x, 36) would also take other scripts' digits
_SHAPE = "DYTKN-1-<CA digest>-<m|a>-<secret>"
_HASH_CONTEXT = b"dockyard join secret v1\x00"


class InvalidJoinToken(ValueError):
    """A join token is malformed. The message says what is wrong but never
    repeats the token, which carries a secret and may end up in logs."""


@dataclass(frozen=True, slots=True)
class JoinToken:
    """A parsed join token. `str(token)` is the text an operator copies."""

    ca_digest: str  # "sha256:<64 hex>", as `CertificateAuthority.digest()`
    role: Role  # Role.MANAGER or Role.AGENT
    secret: str = field(repr=False)  # 25 base36 characters; kept out of repr so it stays out of logs

    def __post_init__(self) -> None:
        _digest_int(self.ca_digest)
        if self.role not in _ROLE_LETTERS:
            raise InvalidJoinToken(f"join tokens exist for roles manager and agent, not {self.role!r}")
        object.__setattr__(self, "role", Role(self.role))
        if len(self.secret) != _SECRET_CHARS or not _BASE36.match(self.secret):
            raise InvalidJoinToken(f"the secret must be {_SECRET_CHARS} base36 characters (0-9, a-z)")

    @classmethod
    def generate(cls, ca_digest: str, role: Role | str) -> JoinToken:
        """A new token for `role` with a fresh random secret, pinning `ca_digest`."""
        if role not in _ROLE_LETTERS:
            raise InvalidJoinToken(f"join tokens exist for roles manager and agent, not {role!r}")
        return cls(ca_digest, Role(role), _base36(secrets.randbits(_SECRET_BITS), _SECRET_CHARS))

    @classmethod
    def parse(cls, text: str) -> JoinToken:
        """Parse a token as printed by `dockyard token ls`. Raises InvalidJoinToken
        (a ValueError) saying what is wrong; surrounding whitespace is ignored."""
        if not isinstance(text, str):
            raise InvalidJoinToken(f"a join token is text, got {type(text).__name__}")
        text = text.strip()
        if not text:
            raise InvalidJoinToken(f"the join token is empty; expected {_SHAPE}")
        parts = text.split("-")
        if parts[0] != _PREFIX:
            if parts[0] == "SWMTKN":
                raise InvalidJoinToken(
                    "this is a Docker Swarm join token, not a Dockyard one (those start with DYTKN-)"
                )
            raise InvalidJoinToken(f"not a Dockyard join token: it should start with {_PREFIX}- ({_SHAPE})")
        if len(parts) >= 2 and parts[1] != _VERSION:
            raise InvalidJoinToken(
                f"unsupported join token version {parts[1][:8]!r}: this Dockyard understands version {_VERSION}"
            )
        if len(parts) != 5:
            raise InvalidJoinToken(f"malformed join token: expected 5 dash-separated parts {_SHAPE}, got {len(parts)}")
        _, _, digest_text, letter, secret = parts
        if len(digest_text) != _DIGEST_CHARS or not _BASE36.match(digest_text):
            raise InvalidJoinToken(
                f"malformed join token: the CA digest must be {_DIGEST_CHARS} base36 characters (0-9, a-z), "
                f"{_describe(digest_text)} (was the token truncated or mistyped?)"
            )
        value = int(digest_text, 36)
        if value >= 1 << 256:
            raise InvalidJoinToken("malformed join token: the CA digest is not a SHA-256 digest (too large)")
        if letter not in _LETTER_ROLES:
            # Echo a one-letter mistake ('w' for worker); anything longer may be part of the secret.
            got = f"got {letter!r}" if len(letter) == 1 else _describe(letter)
            raise InvalidJoinToken(f"malformed join token: the role must be 'm' (manager) or 'a' (agent), {got}")
        if len(secret) != _SECRET_CHARS or not _BASE36.match(secret):
            raise InvalidJoinToken(
                f"malformed join token: the secret must be {_SECRET_CHARS} base36 characters (0-9, a-z), "
                f"{_describe(secret)} (was the token truncated or mistyped?)"
            )
        return cls(f"sha256:{value:064x}", _LETTER_ROLES[letter], secret)

    def __str__(self) -> str:
        digest = _base36(_digest_int(self.ca_digest), _DIGEST_CHARS)
        return f"{_PREFIX}-{_VERSION}-{digest}-{_ROLE_LETTERS[self.role]}-{self.secret}"

    def rotated(self) -> JoinToken:
        """The same role and CA pin with a new secret (`dockyard token rotate`)."""
        return JoinToken.generate(self.ca_digest, self.role)

    def secret_hash(self) -> SecretHash:
        return hash_secret(self.secret)


@dataclass(frozen=True, slots=True)
class SecretHash:
    """What the manager stores instead of a token's secret ("sha256:<hex>")."""

    digest: str

    def matches(self, secret: str) -> bool:
        """Whether `secret` is the one hashed; compares in constant time."""
        return hmac.compare_digest(self.digest.encode(), hash_secret(secret).digest.encode())


def hash_secret(secret: str) -> SecretHash:
    # Domain-separated so this hash is never equal to a hash of the same bytes
    # made for another purpose. Fast on purpose: the secret has 128 random bits.
    return SecretHash("sha256:" + hashlib.sha256(_HASH_CONTEXT + secret.encode("utf-8", "replace")).hexdigest())


def join_proof(secret: str, csr_pem: bytes) -> str:
    """What a joiner sends instead of its token's secret: HMAC-SHA256 of the
    CSR under the secret. It proves the joiner knows the secret, and it is
    useless to anyone who overhears it (it only admits this CSR, whose key
    stays with the joiner)."""
    return hmac.new(secret.encode(), csr_pem, hashlib.sha256).hexdigest()


def proof_matches(secret: str, csr_pem: bytes, proof: str) -> bool:
    return hmac.compare_digest(join_proof(secret, csr_pem), proof)


def pin_matches(ca_pem: bytes, token: JoinToken) -> bool:
    """Whether `ca_pem` is the CA the token was made for. A joiner checks this on
    the CA certificate the manager sent before trusting it or sending its secret."""
    try:
        actual = ca_digest(ca_pem)
    except CertificateRejected:  # not a certificate at all: certainly not the pinned one
        return False
    return hmac.compare_digest(actual.encode(), token.ca_digest.encode())


def _digest_int(digest: str) -> int:
    algo, _, hex_part = digest.partition(":")
    if algo != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", hex_part):
        raise InvalidJoinToken(f"a CA digest is 'sha256:' and 64 lowercase hex digits, got {digest[:80]!r}")
    return int(hex_part, 16)


def _describe(part: str) -> str:
    # Says what is wrong with a part without repeating it (it may hold the secret).
    if not part:
        return "but it is empty"
    if not _BASE36.match(part):
        return f"but it has {len(part)} characters, some of them not 0-9 or a-z"
    return f"but it has {len(part)} characters"


def _base36(value: int, width: int) -> str:
    digits = []
    while value:
        value, rem = divmod(value, 36)
        digits.append(_ALPHABET[rem])
    return "".join(reversed(digits)).rjust(width, "0")
