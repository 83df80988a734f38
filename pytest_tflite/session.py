"""The state of one pytest run: which modes were asked for, and the shared converter."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ModeError
from .modes import get_mode, mode_names

if TYPE_CHECKING:
    from .conversion import Converter

ALL = "all"


class TFLiteSession:
    """Settings read from the command line and ini file, and the run's conversions."""

    def __init__(
        self,
        *,
        modes: Sequence[str],
        cache_dir: Path | None,
        calibration_samples: int,
    ) -> None:
        self.requested_modes = list(modes)
        self.cache_dir = cache_dir
        self.calibration_samples = calibration_samples
        self._converter: Converter | None = None
        self._worker_stats: Counter[str] = Counter()

    @property
    def converter(self) -> Converter:
        if self._converter is None:
            from .conversion import Converter

            self._converter = Converter(self.cache_dir)
        return self._converter

    @property
    def conversion_stats(self) -> dict[str, int]:
        """Conversions of this process plus those reported by pytest-xdist workers."""
        own = self._converter.stats if self._converter else Counter()
        return dict(own + self._worker_stats)

    def add_worker_stats(self, stats: dict[str, int]) -> None:
        self._worker_stats.update(stats)

    def selected_modes(self) -> list[str]:
        """The modes chosen by --tflite-mode / ``tflite_modes``, checked against the registry."""
        names: list[str] = []
        for item in self.requested_modes:
            for name in item.split(","):
                name = name.strip()
                if name == ALL:
                    names.extend(mode_names())
                elif name:
                    names.append(_selected(name))
        return list(dict.fromkeys(names))

    def modes_for(self, marker_modes: Sequence[str] | None) -> list[str]:
        """The selected modes a test runs under, narrowed by its ``tflite`` marker."""
        selected = self.selected_modes()
        if marker_modes is None:
            return selected
        wanted = [get_mode(m).name for m in marker_modes]
        return [m for m in wanted if m in selected]


def _selected(name: str) -> str:
    try:
        return get_mode(name).name
    except ModeError as exc:
        raise ModeError(
            f"--tflite-mode (or the tflite_modes ini key) names {name!r}, which is no "
            "registered quantization mode",
            hint=exc.hint,
        ) from None


def marker_modes(marker: Any) -> list[str] | None:
    """The ``modes=`` of a ``@pytest.mark.tflite`` marker (None when it does not narrow)."""
    if marker is None:
        return None
    if marker.args:
        raise ModeError(
            "@pytest.mark.tflite takes keyword arguments only",
            hint="Write @pytest.mark.tflite(modes=['int8', 'float16'])",
        )
    unknown = sorted(set(marker.kwargs) - {"modes"})
    if unknown:
        raise ModeError(
            f"@pytest.mark.tflite got unknown argument(s) {', '.join(unknown)}",
            hint="It takes modes=[...]",
        )
    modes = marker.kwargs.get("modes")
    if modes is None:
        return None
    return [modes] if isinstance(modes, str) else list(modes)
