"""The on-disk conversion cache: converted flatbuffers stored by a content key.

Entries are written atomically and guarded by a per-key file lock, so pytest-xdist
workers sharing one cache folder convert each model once and never read half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ..atomicfile import write_atomic
from ..errors import ConversionError
from ..gate.versions import package_version

CACHE_FORMAT = 1
TOOLCHAIN = ("tensorflow", "keras", "tf-keras", "pytest-tflite")
"""Packages whose version is part of every cache key: the converter, the Keras that
traces the model, and this plugin's own conversion code."""
LOCK_TIMEOUT_S = 1800


def cache_key(parts: dict[str, Any]) -> str:
    """A stable digest of everything that shapes a conversion, toolchain version included."""
    record = {"format": CACHE_FORMAT, **{p: package_version(p) for p in TOOLCHAIN}, **parts}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


class ConversionCache:
    """Converted models on disk, one file per key; ``directory=None`` turns it off."""

    def __init__(self, directory: str | Path | None) -> None:
        self.directory = Path(directory) if directory is not None else None

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    def path(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / key[:2] / f"{key}.tflite"

    def load(self, key: str) -> bytes | None:
        if not self.enabled:
            return None
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None

    def store(self, key: str, content: bytes) -> None:
        if self.enabled:
            write_atomic(self.path(key), content)

    def discard(self, key: str) -> None:
        if self.enabled:
            self.path(key).unlink(missing_ok=True)

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Hold the key's lock, so one process converts while the others wait and reuse."""
        if not self.enabled:
            yield
            return
        lock_path = self.path(key).with_suffix(".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            lock = FileLock(str(lock_path), timeout=LOCK_TIMEOUT_S)
            lock.acquire()
        except Timeout:
            raise ConversionError(
                f"waited {LOCK_TIMEOUT_S // 60} minutes for another process converting the "
                "same model",
                hint=f"If no other run is converting, delete {lock_path} and run again",
            ) from None
        try:
            yield
        finally:
            lock.release()

    def clear(self) -> None:
        if self.directory is not None and self.directory.exists():
            shutil.rmtree(self.directory)
