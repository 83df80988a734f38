"""Golden baselines: what a model measured when someone last accepted it, one JSON file
per model and mode, kept under version control next to the tests.

A baseline records measurements only (sizes, metric, fidelity, operators, placement
per target) and the versions that produced them; budgets live in the configuration,
so tightening a budget never rewrites a baseline. Files are written so that a diff
shows only what changed: keys sorted, floats rounded to ``DIGITS`` significant
digits, nothing rewritten when nothing changed.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

from filelock import FileLock, Timeout

from ..atomicfile import write_atomic
from ..errors import GoldenError
from .versions import current_versions

if TYPE_CHECKING:
    from ..targets.compatibility import CompatibilityReport
    from .measurement import Measurement

T = TypeVar("T")

GOLDEN_SCHEMA_VERSION = 1
DIGITS = 6
"""Floats keep 6 significant digits (``format(x, '.6g')``): enough for accuracy on a
million samples, stable under re-rounding, and free of the last-bit noise that would
make every run rewrite the file. Significant rather than decimal digits, so a mean
error of 3e-7 is not recorded as 0."""
UPDATE_OPTION = "--tflite-update-golden"
LOCK_TIMEOUT_S = 600
MERGED_SECTIONS = ("targets",)
"""Sections merged entry by entry, so tests recording different targets of one model and
mode (even from different pytest-xdist workers) all land. Every other value is replaced
whole: a histogram that lost an operator must not keep it."""


def golden_path(root: str | Path, model: str, mode: str | None) -> Path:
    """``root/<model>/<mode>.json``, with names made safe for any file system."""
    return Path(root) / _safe(model) / f"{_safe(mode or 'none')}.json"


def lock_path(path: str | Path) -> Path:
    """The lock of a baseline, outside the golden folder so that nothing but baselines is
    ever committed: one file per baseline path in the machine's temporary folder, shared
    by every process (and pytest-xdist worker) of this machine."""
    digest = hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:32]
    folder = Path(tempfile.gettempdir()) / "pytest-tflite-golden-locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{digest}.lock"


def record(
    model: str,
    mode: str | None,
    measurement: Measurement | None = None,
    *,
    op_histogram: Mapping[str, int] | None = None,
    targets: Iterable[CompatibilityReport] = (),
    versions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The baseline content for what was measured, ready for ``update_golden``.

    ``targets`` are CompatibilityReports; only what was measured is included, so a
    test that measured placement alone does not erase the recorded accuracy.
    """
    data: dict[str, Any] = {
        "schema_version": GOLDEN_SCHEMA_VERSION,
        "model": model,
        "mode": mode,
        "versions": dict(versions) if versions is not None else current_versions(),
    }
    if measurement is not None:
        data["size_bytes"] = measurement.size_bytes
        data["gzip_size_bytes"] = measurement.gzip_size_bytes
        if measurement.metric is not None and measurement.value is not None:
            data["metric"] = {
                "name": measurement.metric,
                "value": measurement.value,
                "higher_is_better": measurement.higher_is_better,
            }
            data["float32_value"] = measurement.float32_value
            data["fidelity"] = dict(measurement.fidelity) if measurement.fidelity else None
    if op_histogram is not None:
        data["op_histogram"] = dict(op_histogram)
    entries = {report.target: target_entry(report) for report in targets}
    if entries:
        data["targets"] = entries
    return data


def target_entry(report: CompatibilityReport) -> dict[str, Any]:
    """What a baseline keeps of a CompatibilityReport."""
    return {
        "verdict": report.verdict,
        "ops_on_target": report.ops_on_target,
        "ops_total": report.ops_total,
    }


# --- the file format ------------------------------------------------------------------


@overload
def round_value(value: float) -> float: ...


@overload
def round_value(value: T) -> T: ...


def round_value(value: object) -> object:
    """A float rounded as a baseline stores it; anything else unchanged."""
    if isinstance(value, float) and math.isfinite(value):
        rounded = float(format(value, f".{DIGITS}g"))
        return rounded + 0.0  # -0.0 -> 0.0
    return value


def dump(data: Mapping[str, Any]) -> str:
    """The stable text of a baseline: sorted keys, rounded floats, indent 2, final newline."""
    return json.dumps(_plain(data, ""), sort_keys=True, indent=2, allow_nan=False) + "\n"


def _plain(value: Any, where: str) -> Any:
    """JSON types only (numpy scalars included), floats rounded, non-finite refused."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise GoldenError(
                f"a baseline cannot record {number} (at {where or 'the top level'})",
                hint="Measure a finite value; JSON has no NaN or infinity",
            )
        return round_value(number)
    if hasattr(value, "item"):  # numpy bool and other 0-d scalars
        return _plain(value.item(), where)
    raise GoldenError(f"a baseline cannot record a {type(value).__name__} (at {where})")


def read_golden(path: str | Path) -> dict[str, Any] | None:
    """The baseline at ``path``, or None when there is none yet."""
    path = Path(path)
    text = _read_text(path)
    return None if text is None else _parse(text, path)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable(path, f"cannot be read: {exc}") from exc


def _parse(text: str, path: Path) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
        raise _unreadable(path, f"is not valid JSON ({where})") from None
    if not isinstance(data, dict):
        raise _unreadable(path, f"holds a JSON {type(data).__name__}, not an object")
    version = data.get("schema_version")
    if version != GOLDEN_SCHEMA_VERSION:
        found = "no schema_version" if version is None else f"schema version {version!r}"
        raise _unreadable(path, f"has {found}; this pytest-tflite reads version {GOLDEN_SCHEMA_VERSION}")
    return data


def _unreadable(path: Path, problem: str) -> GoldenError:
    return GoldenError(
        f"the golden baseline {path} {problem}",
        hint=f"Fix the file, or run pytest with {UPDATE_OPTION} to record it again",
    )


# --- updating -------------------------------------------------------------------------


def update_golden(
    path: str | Path, changes: Mapping[str, Any], *, discard_invalid: bool = False
) -> bool:
    """Merge ``changes`` into the baseline at ``path``; return whether the file changed.

    The read, merge and write happen under a file lock, so concurrent updates of one
    baseline by several processes all land; the write is atomic, so a reader never
    sees half a file. An unreadable baseline raises GoldenError unless
    ``discard_invalid`` (what an explicit update asks for), which starts it afresh.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path(path)), timeout=LOCK_TIMEOUT_S)
    try:
        lock.acquire()
    except Timeout:
        raise GoldenError(
            f"waited {LOCK_TIMEOUT_S // 60} minutes for another process writing {path}",
            hint=f"If no other run is writing it, delete {lock_path(path)} and run again",
        ) from None
    try:
        return _update_locked(path, changes, discard_invalid)
    finally:
        lock.release()


def _update_locked(path: Path, changes: Mapping[str, Any], discard_invalid: bool) -> bool:
    old_text = _read_text(path)
    current: dict[str, Any] = {}
    if old_text is not None:
        try:
            current = _parse(old_text, path)
        except GoldenError:
            if not discard_invalid:
                raise
    merged = merge(current, changes)
    merged["schema_version"] = GOLDEN_SCHEMA_VERSION
    text = dump(merged)
    if text == old_text:
        return False
    write_atomic(path, text.encode("utf-8"))
    return True


def merge(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``current`` with ``changes`` applied: ``MERGED_SECTIONS`` entry by entry, the rest whole."""
    result = dict(current)
    for key, value in changes.items():
        old = result.get(key)
        if key in MERGED_SECTIONS and isinstance(value, Mapping) and isinstance(old, Mapping):
            result[key] = {**old, **value}
        else:
            result[key] = value
    return result


# --- reporting ------------------------------------------------------------------------


def version_differences(
    golden: Mapping[str, Any] | None, current_versions: Mapping[str, str]
) -> list[str]:
    """Lines naming each package whose version differs from the baseline's, for a failure
    message: a changed converter often explains a changed model."""
    recorded = (golden or {}).get("versions") or {}
    return [
        f"{name}: golden {recorded[name]}, running {current_versions.get(name, 'not installed')}"
        for name in sorted(recorded)
        if recorded[name] != current_versions.get(name, "not installed")
    ]


def stale_baselines(root: str | Path, used: Iterable[str | Path]) -> list[Path]:
    """Baselines under ``root`` no test of this run used (a renamed or deleted model)."""
    root = Path(root)
    if not root.is_dir():
        return []
    seen = {Path(p).resolve() for p in used}
    return sorted(
        p
        for p in root.glob("*/*.json")
        if p.is_file() and not p.name.startswith(".") and not p.parent.name.startswith(".")
        and p.resolve() not in seen
    )


def _safe(name: str) -> str:
    """A single path component: separators and unusual characters become '_', and a
    leading dot is kept from hiding the file."""
    safe = re.sub(r"[^A-Za-z0-9._+-]+", "_", str(name)).strip()
    return safe if safe and not safe.startswith(".") else f"_{safe}"
