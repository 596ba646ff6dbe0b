"""Shared fixtures. Real servers live in their own plugin modules (one per kind of server)."""

pytest_plugins = ["tests.http_server", "tests.smtp_server", "tests.golden_plugin", "tests.browser"]
