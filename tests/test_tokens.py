"""Signed link tokens: purpose, expiry, forgery, key rotation, missing secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.config import load_config
from digest.errors import DigestError
from digest.tokens import (
    CONFIRM,
    UNSUBSCRIBE,
    BadToken,
    ExpiredToken,
    Keys,
    confirm_url,
    load_keys,
    make_token,
    read_token,
    unsubscribe_url,
)
from tests.web_support import write_config

NOW = datetime(2026, 5, 11, 9, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
OLD = "old-key-0123456789-abcdefghij"
NEW = "new-key-0123456789-abcdefghij"


def keys(value: str) -> Keys:
    return load_keys({"DIGEST_SECRET": value})


def test_round_trip_for_each_purpose() -> None:
    k = keys(NEW)
    assert read_token(k, make_token(k, UNSUBSCRIBE, 42), UNSUBSCRIBE) == 42
    token = make_token(k, CONFIRM, 42, NOW)
    assert read_token(k, token, CONFIRM, now=NOW, max_age=WEEK) == 42


def test_a_token_works_only_for_its_purpose() -> None:
    k = keys(NEW)
    with pytest.raises(BadToken):
        read_token(k, make_token(k, CONFIRM, 7, NOW), UNSUBSCRIBE)
    with pytest.raises(BadToken):
        read_token(k, make_token(k, UNSUBSCRIBE, 7), CONFIRM, now=NOW, max_age=WEEK)
    # Relabelling the purpose does not help: the purpose is under the MAC.
    relabelled = "c" + make_token(k, UNSUBSCRIBE, 7)[1:]
    with pytest.raises(BadToken):
        read_token(k, relabelled, CONFIRM, now=NOW, max_age=WEEK)


def test_confirm_tokens_expire_and_unsubscribe_tokens_do_not() -> None:
    k = keys(NEW)
    confirm = make_token(k, CONFIRM, 3, NOW)
    assert read_token(k, confirm, CONFIRM, now=NOW + WEEK - timedelta(minutes=1), max_age=WEEK)
    with pytest.raises(ExpiredToken):
        read_token(k, confirm, CONFIRM, now=NOW + WEEK + timedelta(minutes=1), max_age=WEEK)
    with pytest.raises(ExpiredToken):  # issued far in the future: not trusted either
        read_token(k, confirm, CONFIRM, now=NOW - timedelta(hours=1), max_age=WEEK)
    assert read_token(k, make_token(k, UNSUBSCRIBE, 3), UNSUBSCRIBE) == 3


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t.replace("u.5.", "u.6."),
        lambda t: t + "x",
        lambda t: t.upper(),
        lambda t: "",
        lambda t: t.replace(".", ".."),
    ],
)
def test_tampered_tokens_are_refused(mutate: object) -> None:
    k = keys(NEW)
    token = make_token(k, UNSUBSCRIBE, 5)
    assert callable(mutate)
    with pytest.raises(BadToken):
        read_token(k, mutate(token), UNSUBSCRIBE)


def test_key_rotation_first_signs_all_verify() -> None:
    old_link = make_token(keys(OLD), UNSUBSCRIBE, 9)
    rotated = keys(f"{NEW}, {OLD}")
    assert read_token(rotated, old_link, UNSUBSCRIBE) == 9  # old emails still work
    new_link = make_token(rotated, UNSUBSCRIBE, 9)
    assert new_link != old_link
    assert read_token(keys(NEW), new_link, UNSUBSCRIBE) == 9  # signed by the first key
    with pytest.raises(BadToken):  # once the old key is dropped, its links stop working
        read_token(keys(NEW), old_link, UNSUBSCRIBE)
    with pytest.raises(BadToken):  # a link signed by a key we never had
        read_token(rotated, make_token(keys("z" * 32), UNSUBSCRIBE, 9), UNSUBSCRIBE)


def test_missing_or_short_secret_is_a_clear_error() -> None:
    with pytest.raises(DigestError) as missing:
        load_keys({})
    assert "DIGEST_SECRET n'est pas défini" in missing.value.message
    assert missing.value.hint is not None and "secrets.token_urlsafe" in missing.value.hint
    with pytest.raises(DigestError) as short:
        load_keys({"DIGEST_SECRET": f"{NEW},short"})
    assert "la clé 2 fait moins de 16 caractères" in short.value.message


def test_urls_live_under_base_url(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "https://lettre.example.org/"))
    k = keys(NEW)
    unsub = unsubscribe_url(config, 12, k)
    assert unsub.startswith("https://lettre.example.org/unsubscribe/u.12.")
    token = unsub.rsplit("/", 1)[1]
    assert read_token(k, token, UNSUBSCRIBE) == 12
    confirm = confirm_url(config, 12, NOW, k)
    assert confirm.startswith("https://lettre.example.org/confirm/c.12.")


def test_urls_read_the_environment_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(write_config(tmp_path, "https://lettre.example.org"))
    monkeypatch.setenv("DIGEST_SECRET", NEW)
    token = unsubscribe_url(config, 4).rsplit("/", 1)[1]
    assert read_token(keys(NEW), token, UNSUBSCRIBE) == 4
    monkeypatch.delenv("DIGEST_SECRET")
    with pytest.raises(DigestError):
        unsubscribe_url(config, 4)
