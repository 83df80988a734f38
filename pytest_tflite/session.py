"""The state of one pytest run: which modes were asked for, and the shared converter."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ModeError, TargetError, TFLiteError
from .conversion.modes import get_mode, mode_names

if TYPE_CHECKING:
    from .conversion.converter import Converter
    from .gate.baseline import Gate
    from .model.flatbuffer import TFLiteModel
    from .targets import CompatibilityReport, Target

ALL = "all"
DEFAULT_TARGETS = ("cpu",)
MARKER_ARGUMENTS = ("modes", "targets")


class TFLiteSession:
    """Settings read from the command line and ini file, and the run's conversions."""

    def __init__(
        self,
        *,
        modes: Sequence[str],
        cache_dir: Path | None,
        calibration_samples: int,
        targets: Sequence[str] = DEFAULT_TARGETS,
        gate: Gate | None = None,
    ) -> None:
        self.requested_modes = list(modes)
        self.requested_targets = list(targets)
        self.cache_dir = cache_dir
        self.calibration_samples = calibration_samples
        self._converter: Converter | None = None
        self._worker_stats: Counter[str] = Counter()
        self._reports: dict[tuple[str, str, str], CompatibilityReport] = {}
        self._memo: dict[Any, Any] = {}
        self.gate = gate
        self.used_golden: set[str] = set()
        """Baselines the checks of this run looked at (for the stale listing)."""
        self.deselected = False
        self.stopped_early = False

    @property
    def converter(self) -> Converter:
        if self._converter is None:
            from .conversion.converter import Converter

            self._converter = Converter(self.cache_dir)
        return self._converter

    @property
    def conversion_stats(self) -> dict[str, int]:
        """Conversions of this process plus those reported by pytest-xdist workers."""
        own = self._converter.stats if self._converter else Counter()
        return dict(own + self._worker_stats)

    def compatibility(self, model: TFLiteModel, target: str | Target) -> CompatibilityReport:
        """The target's report on the model, computed once per run for the same bytes."""
        from .targets import get_target

        target = get_target(target)
        key = (model.digest, target.name, repr(sorted(target.options.items())))
        if key not in self._reports:
            self._reports[key] = target.check(model)
        return self._reports[key]

    def memo(self, key: Any, compute: Any) -> Any:
        """``compute()`` once per key in a run (evaluations shared by several checks)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def add_worker_stats(self, stats: dict[str, int]) -> None:
        self._worker_stats.update(stats)

    def selected_modes(self) -> list[str]:
        """The modes chosen by --tflite-mode / ``tflite_modes``, checked against the registry."""
        return _expand(self.requested_modes, mode_names, _selected_mode)

    def selected_targets(self) -> list[str]:
        """The targets chosen by --tflite-target / ``tflite_targets``, checked against the registry."""
        from .targets import target_names

        return _expand(self.requested_targets, target_names, _selected_target)

    def modes_for(self, marker_modes: Sequence[str] | None) -> list[str]:
        """The selected modes a test runs under, narrowed by its ``tflite`` marker."""
        selected = self.selected_modes()
        if marker_modes is None:
            return selected
        wanted = [get_mode(m).name for m in marker_modes]
        return [m for m in wanted if m in selected]

    def targets_for(self, marker_targets: Sequence[str] | None) -> list[str]:
        """The selected targets a test checks, narrowed by its ``tflite`` marker."""
        from .targets import get_target

        selected = self.selected_targets()
        if marker_targets is None:
            return selected
        wanted = [get_target(t).name for t in marker_targets]
        return [t for t in wanted if t in selected]


def _expand(requested: Sequence[str], everything: Any, check: Any) -> list[str]:
    """Names from repeated, comma-separated option values; ``all`` means every registered one."""
    names: list[str] = []
    for item in requested:
        for name in item.split(","):
            name = name.strip()
            if name == ALL:
                names.extend(everything())
            elif name:
                names.append(check(name))
    return list(dict.fromkeys(names))


def _selected_mode(name: str) -> str:
    return _registered(name, get_mode, ModeError, "--tflite-mode", "quantization mode")


def _selected_target(name: str) -> str:
    from .targets import get_target

    return _registered(name, get_target, TargetError, "--tflite-target", "target")


def _registered(name: str, lookup: Any, error: type[TFLiteError], option: str, kind: str) -> str:
    """The registered name, or an error that names the option the bad name came from."""
    try:
        return lookup(name).name
    except error as exc:
        ini = option.removeprefix("--").replace("-", "_") + "s"
        raise error(
            f"{option} (or the {ini} ini key) names {name!r}, which is no registered {kind}",
            hint=exc.hint,
        ) from None


def marker_selection(marker: Any) -> dict[str, list[str] | None]:
    """``modes=`` and ``targets=`` of a ``@pytest.mark.tflite`` marker (None: not narrowed)."""
    selection: dict[str, list[str] | None] = dict.fromkeys(MARKER_ARGUMENTS)
    if marker is None:
        return selection
    if marker.args:
        raise TFLiteError(
            "@pytest.mark.tflite takes keyword arguments only",
            hint="Write @pytest.mark.tflite(modes=['int8', 'float16'], targets=['edgetpu'])",
        )
    unknown = sorted(set(marker.kwargs) - set(MARKER_ARGUMENTS))
    if unknown:
        raise TFLiteError(
            f"@pytest.mark.tflite got unknown argument(s) {', '.join(unknown)}",
            hint="It takes " + ", ".join(f"{name}=[...]" for name in MARKER_ARGUMENTS),
        )
    for name in MARKER_ARGUMENTS:
        value = marker.kwargs.get(name)
        if value is not None:
            selection[name] = [value] if isinstance(value, str) else list(value)
    return selection
