"""Loopback aiosmtpd server fixture that records what it receives."""
