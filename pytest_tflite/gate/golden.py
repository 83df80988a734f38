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
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

from filelock import FileLock, Timeout

from ..atomicfile import write_atomic
from ..errors import GoldenError
from .figures import TARGET_FIGURES, figures_of
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
    return Path(root) / model_folder(model) / f"{_safe(mode or 'none')}.json"


def model_folder(model: str) -> str:
    """The folder of a model's baselines: names differing only in unsafe characters share it."""
    return _safe(model)


def lock_path(path: str | Path) -> Path:
    """The lock of a baseline, outside the golden folder so that nothing but baselines is
    ever committed: one file per baseline path in a folder of the machine's temporary
    directory that belongs to this user alone (mode 0700), shared by every process (and
    pytest-xdist worker) of this user."""
    digest = hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:32]
    return private_lock_folder() / f"{digest}.lock"


def private_lock_folder() -> Path:
    """``pytest-tflite-golden-locks-<uid>``, created 0700 and refused when someone else
    owns it or can write to it (another user could otherwise block or race updates)."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    folder = Path(tempfile.gettempdir()) / f"pytest-tflite-golden-locks-{uid if uid is not None else 'user'}"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if uid is None:
        return folder
    info = folder.lstat()
    if folder.is_symlink() or info.st_uid != uid or info.st_mode & 0o077:
        raise GoldenError(
            f"the lock folder {folder} is not private to this user (owner uid {info.st_uid}, "
            f"mode {stat.filemode(info.st_mode)})",
            hint=f"Remove {folder} (another user or program created it) and run again",
        )
    return folder


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
            if measurement.kernels is not None:
                data["metric"]["kernels"] = measurement.kernels
            data["metric"].update(per_sample_entry(measurement.per_sample, measurement.labels_digest))
            data["float32_value"] = measurement.float32_value
            data["fidelity"] = dict(measurement.fidelity) if measurement.fidelity else None
    if op_histogram is not None:
        data["op_histogram"] = dict(op_histogram)
    entries = {report.target: target_entry(report) for report in targets}
    if entries:
        data["targets"] = entries
    return data


def per_sample_entry(scores: Sequence[float] | None, labels_digest: str | None = None) -> dict[str, Any]:
    """What a baseline keeps of per-sample scores, for a paired interval of the next run's
    change: 0/1 scores (a prediction right or wrong) as bits in base64 text
    (:func:`~.significance.pack`) and their count; nothing for other scores, which would
    fill the file with numbers that change at every update."""
    from .significance import is_binary, pack

    if not scores or not is_binary(scores):
        return {}
    entry: dict[str, Any] = {"samples": len(scores), "per_sample": pack(scores)}
    if labels_digest is not None:
        entry["labels_digest"] = labels_digest
    return entry


def recorded_scores(metric: Mapping[str, Any]) -> tuple[float, ...] | None:
    """The per-sample scores a baseline's ``metric`` entry keeps (checked on reading)."""
    from .significance import unpack

    found, samples = metric.get("per_sample"), metric.get("samples")
    return None if found is None or samples is None else unpack(found, samples)


def target_entry(report: CompatibilityReport) -> dict[str, Any]:
    """What a baseline keeps of a CompatibilityReport: the placement, and the figures the
    target's tool measured (arena, memory, cycles)."""
    entry: dict[str, Any] = {
        "verdict": report.verdict,
        "ops_on_target": report.ops_on_target,
        "ops_total": report.ops_total,
        **figures_of(report.details),
    }
    tool = report.details.get("tool")
    if isinstance(tool, str) and entry.keys() - {"verdict", "ops_on_target", "ops_total"}:
        entry["tool"] = tool  # the figures are that tool's
    return entry


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
        data = json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        if not isinstance(exc, json.JSONDecodeError):
            raise _unreadable(path, str(exc)) from None
        where = f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
        raise _unreadable(path, f"is not valid JSON ({where})") from None
    if not isinstance(data, dict):
        raise _unreadable(path, f"holds a JSON {type(data).__name__}, not an object")
    version = data.get("schema_version")
    if version != GOLDEN_SCHEMA_VERSION:
        found = "no schema_version" if version is None else f"schema version {version!r}"
        raise _unreadable(path, f"has {found}; this pytest-tflite reads version {GOLDEN_SCHEMA_VERSION}")
    problem = shape_problem(data)
    if problem:
        raise _unreadable(path, problem)
    return data


def _no_constant(token: str) -> Any:
    raise ValueError(f"holds {token}, which a baseline never records (JSON has no NaN or infinity)")


# --- what each key may hold -----------------------------------------------------------

MAX_COUNT = 2**53
"""Largest integer a baseline records (sizes, operator counts): beyond it a float cannot
hold it exactly, and no model comes near."""
MAX_VALUE = 1e15
"""Largest magnitude of a recorded float (metrics, fidelity)."""


def _count(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"an integer, not {_kind(value)}"
    if not 0 <= value <= MAX_COUNT:
        return f"an integer from 0 to 2**53, not {value}"
    return None


def _number(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"a number, not {_kind(value)}"
    if not math.isfinite(value) or abs(value) > MAX_VALUE:
        return f"a finite number of magnitude up to 1e15, not {value}"
    return None


def _amount(value: Any) -> str | None:
    problem = _number(value)
    if problem is None and value < 0:
        return f"a number that is not negative, not {value}"
    return problem


def _optional(check: Any) -> Any:
    return lambda value: None if value is None else check(value)


def _text_value(value: Any) -> str | None:
    return None if isinstance(value, str) else f"text, not {_kind(value)}"


def _flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"true or false, not {_kind(value)}"


def _object_of(fields: Mapping[str, Any] | None = None, values: Any = None) -> Any:
    """An object whose named ``fields`` pass their checks, or all of whose ``values`` do."""

    def check(value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"an object, not {_kind(value)}"
        for key, item in value.items():
            rule = (fields or {}).get(key, values)
            problem = rule(item) if rule is not None else None
            if problem:
                return f"[{key}]{problem}"
        return None

    return check


def _positive_count(value: Any) -> str | None:
    problem = _count(value)
    return problem if problem is not None or value > 0 else f"an integer from 1 to 2**53, not {value}"


_METRIC_FIELDS = _object_of(
    {
        "name": _text_value,
        "value": _number,
        "higher_is_better": _flag,
        "kernels": _text_value,
        "samples": _positive_count,
        "per_sample": _text_value,
        "labels_digest": _text_value,
    }
)


def _metric_entry(value: Any) -> str | None:
    """The metric's fields, and per-sample bits that are whole: as many as ``samples`` says."""
    problem: str | None = _METRIC_FIELDS(value)
    if problem or "per_sample" not in value:
        return problem
    if "samples" not in value:
        return "[samples]the count of the samples per_sample holds, not nothing"
    try:
        recorded_scores(value)
    except ValueError as exc:
        return f"[per_sample]the bits of {value['samples']} samples as base64 text ({exc})"
    return None


_KEYS: dict[str, Any] = {
    "model": _text_value,
    "mode": _optional(_text_value),
    "size_bytes": _count,
    "gzip_size_bytes": _count,
    "float32_value": _optional(_number),
    "metric": _metric_entry,
    "fidelity": _optional(_object_of(values=_optional(_number))),
    "op_histogram": _object_of(values=_count),
    "targets": _object_of(
        values=_object_of(
            {
                "verdict": _text_value,
                "ops_on_target": _count,
                "ops_total": _count,
                "tool": _text_value,
                **{f.name: _count if f.whole else _amount for f in TARGET_FIGURES},
            }
        )
    ),
    "versions": _object_of(values=_text_value),
}
"""What each key of a baseline may hold; a baseline is refused when any value does not."""


def shape_problem(data: Mapping[str, Any]) -> str | None:
    """Which key holds a value a baseline never records (a wrong type, a number out of
    range), so a damaged file cannot switch a check off."""
    for key, check in _KEYS.items():
        if key in data:
            problem = check(data[key])
            if problem:
                inner = re.match(r"((?:\[[^\]]*\])*)(.*)", problem, re.S)
                assert inner is not None
                where = ".".join([key, *re.findall(r"\[([^\]]*)\]", inner.group(1))])
                return f"has a bad value at {where!r}: expected {inner.group(2)}"
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"the text {value!r}"
    return {dict: "an object", list: "a list", bool: "true/false"}.get(type(value), repr(value))


def _unreadable(path: Path, problem: str) -> GoldenError:
    return GoldenError(
        f"the golden baseline {path} {problem}",
        hint=f"Fix the file, or run pytest with {UPDATE_OPTION} to record it again",
    )


# --- updating -------------------------------------------------------------------------


def update_golden(
    path: str | Path,
    changes: Mapping[str, Any],
    *,
    discard_invalid: bool = False,
    mark: tuple[str, str] | None = None,
) -> bool:
    """Merge ``changes`` into the baseline at ``path``; return whether the file changed.

    The read, merge and write happen under a file lock, so concurrent updates of one
    baseline by several processes all land; the write is atomic, so a reader never
    sees half a file. An unreadable baseline raises GoldenError unless
    ``discard_invalid`` (what an explicit update asks for), which starts it afresh.
    ``mark`` (key, value) is set on the file by a write that changes it.
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
        return _update_locked(path, changes, discard_invalid, mark)
    finally:
        lock.release()


def _update_locked(
    path: Path, changes: Mapping[str, Any], discard_invalid: bool, mark: tuple[str, str] | None
) -> bool:
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
    if dump(merged) == old_text:
        return False
    if mark is not None:  # only a write that changes something marks the file
        merged[mark[0]] = mark[1]
    write_atomic(path, dump(merged).encode("utf-8"))
    return True


def clear_key(path: Path, key: str) -> None:
    """Remove ``key`` from the baseline at ``path``, if it is there (under the lock)."""
    lock = FileLock(str(lock_path(path)), timeout=LOCK_TIMEOUT_S)
    with lock:
        try:
            text = _read_text(path)
            data = _parse(text, path) if text is not None else {}
        except GoldenError:  # a damaged file is reported by the checks that read it
            return
        if key not in data:
            return
        del data[key]
        write_atomic(path, dump(data).encode("utf-8"))


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


def version_differences(golden: Mapping[str, Any] | None, current_versions: Mapping[str, str]) -> list[str]:
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
        if p.is_file() and not p.name.startswith(".") and not p.parent.name.startswith(".") and p.resolve() not in seen
    )


def _safe(name: str) -> str:
    """A single path component: separators and unusual characters become '_', and a
    leading dot is kept from hiding the file."""
    safe = re.sub(r"[^A-Za-z0-9._+-]+", "_", str(name)).strip()
    return safe if safe and not safe.startswith(".") else f"_{safe}"
