"""Reference AMAS service."""
