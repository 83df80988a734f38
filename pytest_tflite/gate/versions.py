"""The toolchain a figure depends on: recorded in baselines, cache keys and reports, so a
changed figure can be told apart from a changed converter or runtime."""

from __future__ import annotations

import functools
import platform
from importlib import metadata


@functools.cache
def package_version(name: str) -> str:
    """The installed version of a distribution, or ``not installed``: looked up once per
    process, since every cache key asks and each lookup scans the installed packages."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def current_versions() -> dict[str, str]:
    """The versions a baseline depends on: converter, runtime and this plugin."""
    from .. import __version__

    return {
        "tensorflow": package_version("tensorflow"),
        "ai_edge_litert": package_version("ai-edge-litert"),
        "pytest_tflite": __version__,
    }


TARGET_TOOLS = ("ethos-u-vela", "tflite-micro")
"""The tools some targets run (their version is in each of their baseline entries)."""


def run_versions() -> dict[str, str]:
    """The tools a run's figures depend on: those baselines record, the targets' tools
    that are installed, Python and pytest."""
    tools = {name: version for name in TARGET_TOOLS if (version := package_version(name)) != "not installed"}
    return {
        **current_versions(),
        **tools,
        "python": platform.python_version(),
        "pytest": package_version("pytest"),
    }
