"""Step definitions, loaded as plugins by the project's conftest.py."""
