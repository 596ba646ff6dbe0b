"""Shared fixtures. Real servers live in their own plugin modules (one per kind of server)."""

import pytest

pytest_plugins = ["tests.http_server", "tests.smtp_server", "tests.golden_plugin", "tests.browser"]


@pytest.fixture(autouse=True)
def _staff_language_from_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own DIGEST_LANG must not change what the tests expect to read."""
    monkeypatch.delenv("DIGEST_LANG", raising=False)
