"""The package version, from the installed distribution's metadata (pyproject.toml is the one source)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("snnsad")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
