"""The package version, in a module of its own: pyproject.toml and the feeds' generator tag read
it here, so nothing needs to import the package face (and with it the app factory)."""

__version__ = "0.3.0"
