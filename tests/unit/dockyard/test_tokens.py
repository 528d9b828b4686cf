"""Join tokens as operators copy them: they round-trip, pin the CA, can be
rotated, and every malformed token says what is wrong without leaking its secret."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.pki import CertificateAuthority, Role
from dockyard.tokens import InvalidJoinToken, JoinToken, SecretHash, hash_secret, pin_matches

CA = CertificateAuthority.create("cluster-a")
OTHER_CA = CertificateAuthority.create("cluster-a")
TOKEN_SHAPE = re.compile(r"DYTKN-1-[0-9a-z]{50}-[ma]-[0-9a-z]{25}\Z")


def _valid() -> str:
    return str(JoinToken.generate(CA.digest(), Role.AGENT))


@pytest.mark.parametrize(("role", "letter"), [(Role.MANAGER, "m"), (Role.AGENT, "a"), ("agent", "a")])
def test_generated_token_round_trips(role: Role, letter: str) -> None:
    token = JoinToken.generate(CA.digest(), role)
    text = str(token)
    assert TOKEN_SHAPE.match(text)
    assert text.split("-")[3] == letter
    parsed = JoinToken.parse(text)
    assert parsed == token
    assert (parsed.ca_digest, parsed.role, parsed.secret) == (CA.digest(), Role(role), token.secret)


def test_parse_ignores_surrounding_whitespace() -> None:
    text = _valid()
    assert JoinToken.parse(f"  {text}\n") == JoinToken.parse(text)


def test_each_token_has_a_fresh_secret() -> None:
    secrets = {JoinToken.generate(CA.digest(), Role.AGENT).secret for _ in range(50)}
    assert len(secrets) == 50


def test_no_token_for_admins() -> None:
    # The admin credential is created at init; nobody can join as admin.
    with pytest.raises(InvalidJoinToken, match="manager and agent"):
        JoinToken.generate(CA.digest(), Role.ADMIN)


def test_generate_rejects_a_digest_that_is_not_sha256() -> None:
    with pytest.raises(InvalidJoinToken, match="64 lowercase hex"):
        JoinToken.generate("md5:abcd", Role.AGENT)


def test_repr_does_not_show_the_secret() -> None:
    token = JoinToken.generate(CA.digest(), Role.MANAGER)
    assert token.secret not in repr(token)


def _replace_part(text: str, index: int, value: str) -> str:
    parts = text.split("-")
    parts[index] = value
    return "-".join(parts)


VALID = _valid()
SECRET = VALID.split("-")[4]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("hello", "should start with DYTKN-"),
        ("dytkn" + VALID[5:], "should start with DYTKN-"),
        ("SWMTKN-1-abc-def", "Docker Swarm join token"),
        (_replace_part(VALID, 1, "2"), "unsupported join token version '2'"),
        (VALID.rsplit("-", 1)[0], "expected 5 dash-separated parts"),
        (VALID + "-extra", "expected 5 dash-separated parts"),
        (_replace_part(VALID, 2, VALID.split("-")[2][:-1]), "CA digest must be 50 base36 .* 49 characters"),
        (_replace_part(VALID, 2, VALID.split("-")[2].upper()), "CA digest .* some of them not 0-9 or a-z"),
        (_replace_part(VALID, 2, "z" * 50), "not a SHA-256 digest"),
        (_replace_part(VALID, 3, "w"), "role must be 'm' \\(manager\\) or 'a' \\(agent\\), got 'w'"),
        (_replace_part(VALID, 3, "agent"), "role must be .* 5 characters"),
        (_replace_part(VALID, 3, ""), "role must be .* empty"),
        (VALID[:-1], "secret must be 25 base36 .* 24 characters"),
        (_replace_part(VALID, 4, "٣" * 25), "secret must be .* some of them not 0-9 or a-z"),
        (_replace_part(VALID, 4, ""), "secret must be .* empty"),
    ],
)
def test_malformed_tokens_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidJoinToken, match=message) as excinfo:
        JoinToken.parse(text)
    assert isinstance(excinfo.value, ValueError)
    # The message may end up in logs: it must never carry the secret.
    assert SECRET not in str(excinfo.value)
    assert SECRET[:10] not in str(excinfo.value)


def test_the_manager_stores_a_hash_that_matches_only_the_secret() -> None:
    token = JoinToken.generate(CA.digest(), Role.AGENT)
    stored = hash_secret(token.secret)
    assert stored == token.secret_hash()
    assert token.secret not in stored.digest
    assert stored.digest.startswith("sha256:")
    assert stored.matches(token.secret)
    assert not stored.matches(token.secret[:-1] + ("0" if token.secret[-1] != "0" else "1"))
    assert not stored.matches("")
    # What is stored survives being written out and read back as plain text.
    assert SecretHash(stored.digest).matches(token.secret)


def test_rotation_invalidates_the_old_secret() -> None:
    old = JoinToken.generate(CA.digest(), Role.MANAGER)
    new = old.rotated()
    assert (new.ca_digest, new.role) == (old.ca_digest, old.role)
    assert new.secret != old.secret
    stored = new.secret_hash()  # the manager replaces the role's hash on rotate
    assert stored.matches(new.secret)
    assert not stored.matches(old.secret)


def test_agent_and_manager_secrets_are_independent() -> None:
    agent = JoinToken.generate(CA.digest(), Role.AGENT)
    manager = JoinToken.generate(CA.digest(), Role.MANAGER)
    assert not manager.secret_hash().matches(agent.secret)


def test_pin_matches_the_ca_the_token_was_made_for() -> None:
    token = JoinToken.generate(CA.digest(), Role.AGENT)
    assert pin_matches(CA.cert_pem, token)


def test_pin_detects_a_different_ca() -> None:
    # Same cluster id and subject: only the pinned digest tells the impostor apart.
    token = JoinToken.generate(CA.digest(), Role.AGENT)
    assert not pin_matches(OTHER_CA.cert_pem, token)
    assert not pin_matches(b"not a certificate", token)
    assert not pin_matches(b"", token)


def test_pin_survives_the_token_text_round_trip() -> None:
    token = JoinToken.parse(str(JoinToken.generate(CA.digest(), Role.MANAGER)))
    assert pin_matches(CA.cert_pem, token)
    assert not pin_matches(OTHER_CA.cert_pem, token)


@given(st.text())
def test_parse_raises_only_value_error_on_arbitrary_text(text: str) -> None:
    try:
        token = JoinToken.parse(text)
    except ValueError:
        return
    assert str(token) == text.strip()


@given(st.integers(min_value=0, max_value=len(VALID) - 1), st.characters())
def test_parse_raises_only_value_error_on_a_mistyped_token(position: int, char: str) -> None:
    text = VALID[:position] + char + VALID[position + 1 :]
    try:
        token = JoinToken.parse(text)
    except ValueError:
        return
    # A substitution that still parses is a different (but well-formed) token.
    assert str(token) == text.strip()


@given(
    st.integers(min_value=0, max_value=(1 << 256) - 1),
    st.sampled_from([Role.MANAGER, Role.AGENT]),
    st.text(alphabet="0123456789abcdefghijklmnopqrstuvwxyz", min_size=25, max_size=25),
)
def test_any_well_formed_token_round_trips(digest: int, role: Role, secret: str) -> None:
    token = JoinToken(f"sha256:{digest:064x}", role, secret)
    assert TOKEN_SHAPE.match(str(token))
    assert JoinToken.parse(str(token)) == token
