"""digest: writes and sends a weekly newsletter from partner feeds and local recaps."""

__version__ = "0.1.0"
