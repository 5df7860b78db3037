"""The library's pytest plugin is opt-in (users write the same line in their own conftest.py)."""

pytest_plugins = ["amas_telemetry.testing"]
