"""Loopback HTTP server fixture serving tests/data/feeds/ plus scripted routes."""
