"""Latency of a converted model on the host CPU, timed through pytest-benchmark.

The timed call is one ``invoke()`` of the LiteRT interpreter on inputs loaded once
beforehand, after a few untimed warm-up invokes, so the figures hold the model's own
run time and not the cost of copying data in or out. It is the latency of the machine
running the tests (``target`` "cpu"), not of a phone or an accelerator: compare runs
made on the same kind of machine.

Nothing here imports TensorFlow, numpy or pytest at module level: the plugin's settings
import this module on every run.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import RuntimeFailure
from .report.keys import key

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import pytest

    from .model.flatbuffer import Tensor, TFLiteModel
    from .model.runtime import Inputs, Runner

TARGET = "cpu"
"""Where latency is measured: the LiteRT interpreter of the host."""
DEFAULT_THREADS = 1
"""One interpreter thread: shared CI machines give steadier figures with one than with many."""
DEFAULT_WARMUP = 10
"""Untimed invokes before timing: the first ones allocate and fill caches."""
SEED = 0


@dataclasses.dataclass
class LatencyRun:
    """How this run times models, and how many timings pytest-xdist prevented."""

    threads: int = DEFAULT_THREADS
    warmup: int = DEFAULT_WARMUP
    unmeasured: int = 0


@dataclasses.dataclass(frozen=True)
class Latency:
    """pytest-benchmark's statistics of one model's ``invoke()``, in milliseconds."""

    median_ms: float
    mean_ms: float
    stddev_ms: float
    min_ms: float
    rounds: int

    def properties(self) -> dict[str, float | int]:
        """The figures as ``record_property`` pairs (they reach ``--junitxml`` and xdist)."""
        return {key(f"latency_{name}"): value for name, value in dataclasses.asdict(self).items()}


def figures(stats: Any) -> Latency | None:
    """pytest-benchmark's statistics (``benchmark.stats``) as :class:`Latency`; None when
    nothing was timed (``--benchmark-disable``, or pytest-xdist turned timing off)."""
    stats = getattr(stats, "stats", stats)  # benchmark.stats wraps the Stats object
    if not stats:
        return None
    return Latency(
        median_ms=ms(stats.median),
        mean_ms=ms(stats.mean),
        stddev_ms=ms(stats.stddev),
        min_ms=ms(stats.min),
        rounds=int(stats.rounds),
    )


def ms(seconds: float) -> float:
    """Seconds as milliseconds, at a baseline's precision."""
    from .gate.golden import DIGITS

    return float(format(seconds * 1000.0, f".{DIGITS}g"))


def saved_properties(stats: Any, saved: Mapping[str, Any] | None) -> dict[str, float]:
    """The median and IQR of the saved run ``--benchmark-compare`` compares a test with,
    and this run's IQR, as ``record_property`` pairs: the session report tells from them
    whether the median moved by more than the runs' own spread. Empty without a saved run."""
    stats = getattr(stats, "stats", stats)
    try:
        found = {"saved_median": saved["median"], "saved_iqr": saved["iqr"], "iqr": stats.iqr} if saved else {}
        return {key(f"latency_{name}_ms"): ms(float(value)) for name, value in found.items()}
    except (KeyError, TypeError, ValueError):
        return {}  # a run saved by another pytest-benchmark: no spread to compare with


def saved_stats(config: pytest.Config, nodeid: str) -> Mapping[str, Any] | None:
    """The statistics of ``nodeid`` in the saved run pytest-benchmark compares with (the
    last one holding it), None when it compares with none."""
    bench = benchmark_session(config)
    found = None
    for runs in (getattr(bench, "compared_mapping", None) or {}).values():
        if nodeid in runs and isinstance(runs[nodeid].get("stats"), Mapping):
            found = runs[nodeid]["stats"]
    return found


def prepare(
    model: TFLiteModel, *, threads: int = DEFAULT_THREADS, inputs: Inputs | None = None, warmup: int = DEFAULT_WARMUP
) -> Runner:
    """A runner of its own with ``threads`` interpreter threads, its inputs loaded once
    (``inputs``, else :func:`fixed_inputs`) and warmed up: timing it is timing ``invoke()``."""
    from .model.runtime import Runner

    runner = Runner(model, num_threads=threads)
    runner.set_inputs(fixed_inputs(model) if inputs is None else inputs)
    for _ in range(warmup):
        runner.invoke()
    return runner


def fixed_inputs(model: TFLiteModel) -> dict[str, np.ndarray]:
    """One sample per input, the same on every run: seeded values of the tensor's shape
    (an unknown dimension, usually the batch, taken as 1) and type."""
    import numpy as np

    from .model.runtime import plain_name

    rng = np.random.default_rng(SEED)
    return {plain_name(t.name): _sample(rng, t, model) for t in model.inputs}


def _sample(rng: np.random.Generator, tensor: Tensor, model: TFLiteModel) -> np.ndarray:
    import numpy as np

    shape = tuple(d if d >= 0 else 1 for d in tensor.shape_signature)
    try:
        dtype = np.dtype(tensor.dtype)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "biuf":
        raise RuntimeFailure(
            f"cannot make up a latency input for {tensor.name!r}, a {tensor.dtype} tensor",
            source=model.name,
            mode=model.mode,
            hint="Pass a sample: tflite_benchmark(model, inputs=x)",
        )
    sample: np.ndarray
    if dtype.kind == "b":
        sample = rng.random(shape) < 0.5
    elif dtype.kind in "iu" and tensor.quantization is None:
        sample = rng.integers(0, 2, size=shape).astype(dtype)  # small: ids of an embedding
    else:
        sample = rng.random(shape, dtype=np.float32)  # scaled into the tensor's type by the runner
    return sample


def extra_info(model: TFLiteModel, threads: int) -> dict[str, Any]:
    """What a saved pytest-benchmark run keeps next to the timings, so runs compared
    later can be told apart: the model, its mode, how it ran, and the toolchain."""
    from .gate.versions import current_versions
    from .model.kernels import current_kernels

    return {
        "model": model.name,
        "mode": model.mode,
        "target": TARGET,
        "kernels": current_kernels(),
        "threads": threads,
        "size_bytes": model.size_bytes,
        "versions": current_versions(),
    }


def compare_problem(compare: object, compare_fail: object, storage: Any) -> str | None:
    """Why ``--benchmark-compare`` (pytest-benchmark's options as it parsed them) has
    nothing to compare with, or None.

    pytest-benchmark only warns when the storage holds no run, skips a run file it cannot
    parse (comparing with an older one instead), and refuses ``--benchmark-compare-fail``
    without a comparison only after every test ran; checking first spares a run whose
    comparison is void. Only file storage is looked into.
    """
    if compare_fail and not compare:
        return (
            "--benchmark-compare-fail needs a saved run to compare with: add "
            "--benchmark-compare (the last saved run) or --benchmark-compare=NUM"
        )
    return _saved_run_problem(storage, compare) if compare else None


def _saved_run_problem(storage: Any, compare: object) -> str | None:
    folder = getattr(storage, "path", None)
    if folder is None or not hasattr(storage, "query"):
        return None
    last = compare is True
    try:
        chosen = storage.query("[0-9][0-9][0-9][0-9]_") if last else storage.query(str(compare))
    except ValueError as exc:
        return f"--benchmark-compare={compare}: {exc}"
    if last:
        chosen = chosen[-1:]
    if not chosen:
        which = "no saved benchmark run" if last else f"no saved benchmark run matching {compare!r}"
        return (
            f"--benchmark-compare: {which} in {folder} (see --benchmark-storage). Save one "
            "first with --benchmark-autosave (or --benchmark-save=NAME), for instance: "
            "pytest -k latency --benchmark-autosave"
        )
    for path in chosen:
        problem = _unreadable_run(path)
        if problem:
            return (
                f"--benchmark-compare: the saved benchmark run {path} cannot be used: {problem}. "
                "Delete it, or compare with another run: --benchmark-compare=NUM"
            )
    return None


def _unreadable_run(path: Path) -> str | None:
    try:
        data = json.loads(path.read_text(encoding="utf8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"it is not valid JSON ({exc})"
    runs = data.get("benchmarks") if isinstance(data, Mapping) else None
    if not isinstance(runs, list) or not all(isinstance(r, Mapping) and "stats" in r for r in runs):
        return "it does not hold pytest-benchmark results (a 'benchmarks' list with 'stats')"
    return None


def benchmark_session(config: pytest.Config) -> Any | None:
    """pytest-benchmark's session (its parsed options, storage, and whether pytest-xdist
    turned timing off), None when the plugin is off. pytest-benchmark has no public
    accessor for it; this is the one place that reads the private attribute."""
    return getattr(config, "_benchmarksession", None)


def comparison_problem(config: pytest.Config) -> str | None:
    """Why this run's ``--benchmark-compare`` has nothing to compare with, or None."""
    bench = benchmark_session(config)
    if bench is None:
        return None
    return compare_problem(bench.compare, bench.compare_fail, bench.storage)


def turned_off_by_xdist(config: pytest.Config) -> bool:
    bench = benchmark_session(config)
    return bool(bench is not None and bench.xdist_warning)


def time_model(benchmark: Any, run: LatencyRun, node: Any, model: TFLiteModel, inputs: Any = None) -> Latency | None:
    """Time one model through pytest-benchmark's fixture and attach the figures to the
    test's report; None when nothing was timed (``--benchmark-disable``, or pytest-xdist)."""
    warmup = run.warmup if benchmark.enabled else 0
    runner = prepare(model, threads=run.threads, inputs=inputs, warmup=warmup)
    benchmark.group = benchmark.group or model.name  # a benchmark marker's group wins
    benchmark.extra_info.update(extra_info(model, run.threads))
    benchmark(runner.invoke)
    timed = figures(benchmark.stats)
    if timed is not None:
        node.user_properties.extend(timed.properties().items())
        node.user_properties.append((key("latency_kernels"), runner.kernels))
        saved = saved_stats(node.config, benchmark.fullname)
        node.user_properties.extend(saved_properties(benchmark.stats, saved).items())
    elif turned_off_by_xdist(node.config):
        run.unmeasured += 1  # turned off by pytest-xdist, not by --benchmark-disable
    return timed
