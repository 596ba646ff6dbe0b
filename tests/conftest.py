"""Shared fixtures. Real servers live in their own plugin modules (one per kind of server)."""

import pytest

pytest_plugins = ["tests.http_server", "tests.smtp_server", "tests.golden_plugin", "tests.browser"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use the headless browser run last, the others keeping their order.

    Why: Playwright's sync API keeps an asyncio loop running in the main thread for as long
    as the session's browser is open, and `asyncio.run()` (how feeds are fetched) refuses to
    start inside a running loop; a feed test collected after a browser test would fail.
    """
    items.sort(key=lambda item: "browser" in getattr(item, "fixturenames", ()))


@pytest.fixture(autouse=True)
def _staff_language_from_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own DIGEST_LANG must not change what the tests expect to read."""
    monkeypatch.delenv("DIGEST_LANG", raising=False)


@pytest.fixture
def english_staff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Staff output in English (DIGEST_LANG=en, child processes included), for tests whose
    point is not the language: they compare the English texts, which stay as they were,
    while the newsletters they build stay French."""
    monkeypatch.setenv("DIGEST_LANG", "en")
