"""How pytest-xdist shares declared checks out: one model's checks under one mode go to
one worker.

The checks of a model and mode (converts, size, accuracy, placement, latency) need the
same conversion. Sent to different workers, as ``--dist load`` does, each worker asks
for it at once and all but one wait on the cache lock while the conversion runs, so a
cold run uses one core for most of its length. Grouped, the workers convert different
modes side by side. Tests that are not declared checks are shared out one by one, as
``--dist load`` does. The fine-tuning modes' checks are handed out first: the longest
units of work, started last, would leave one worker running while the others wait.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import pytest


def work_unit(nodeid: str, declaration_files: Sequence[str]) -> str:
    """The checks that share a worker: ``file::model::mode`` for a declared check
    (``tflite_models.py::mobilenet::test_size[qat_int8]``), the test itself otherwise."""
    parts = nodeid.split("::")
    if len(parts) != 3 or "[" not in parts[2]:
        return nodeid
    if not any(PurePosixPath(parts[0]).match(pattern) for pattern in declaration_files):
        return nodeid
    mode = parts[2].split("[", 1)[1].rstrip("]").split("-", 1)[0]
    return f"{parts[0]}::{parts[1]}::{mode}"


def scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist's scope scheduling, with :func:`work_unit` as the scope."""
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    patterns = list(config.getini("tflite_model_files"))

    class DeclaredCheckScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid, patterns)

    return DeclaredCheckScheduling(config, log)


def fine_tunes_first(items: list[pytest.Item], declaration_files: Sequence[str]) -> None:
    """Reorder ``items`` in place (stably): declared checks under training-time modes first."""
    from ..conversion.modes import get_mode

    def fine_tunes(item: pytest.Item) -> bool:
        unit = work_unit(item.nodeid, declaration_files)
        if unit == item.nodeid:
            return False
        try:
            return get_mode(unit.rsplit("::", 1)[1]).needs_training_data
        except Exception:  # noqa: BLE001 - an unknown mode fails in its own tests
            return False

    items.sort(key=lambda item: not fine_tunes(item))
