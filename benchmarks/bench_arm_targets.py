"""Whether the Arm targets report what the real tools report by hand, on the reference suites' models.

Run from the repository root (with the ``ethos-u`` and ``tflm`` extras installed):

    .venv/bin/python benchmarks/bench_arm_targets.py
    .venv/bin/python benchmarks/bench_arm_targets.py --cache-dir /tmp/other-cache --samples 32

The models are the reference suites' declared models (``suites/tflite_models.py``),
converted under the post-training modes ``full_int8`` and ``int16x8`` where the model
declares them (no fine-tuning), from the ``--cache-dir`` conversion cache.

1. **Ethos-U.** For each model and each of ``ethos-u55``, ``ethos-u65`` and ``ethos-u85``,
   ``check(model, target)`` against the ``vela`` console script run by hand on the same
   bytes in a temporary folder (``--accelerator-config`` ethos-u55-128, ethos-u65-256,
   ethos-u85-256, the targets' defaults): the summary CSV's SRAM, flash (on- plus
   off-chip), DRAM (KiB, as bytes), total cycles and inference time (seconds, as µs to
   1e-3), its accelerator configuration, and the number of operators of the compiled
   model that are not Vela's ``ethos-u`` custom operator against the report's
   ``ops_on_cpu``. Both are timed.
2. **TFLite Micro.** ``check(model, "tflm")``'s ``arena_bytes`` is run by hand, in a child
   Python that loads the model into ``tflite_micro``'s interpreter with that arena, sets
   zero inputs, invokes and prints its allocations: the arena must work and one 16 bytes
   smaller must not (a RuntimeError, or the child dying by a signal). The recorder's
   "Arena allocation total" is printed next to the minimum, with the report's
   ``max_diff_lsb`` (TFLite Micro against LiteRT's reference kernels).
3. **XNNPACK against the reference kernels.** On the same seeded integer inputs, LiteRT's
   default interpreter (XNNPACK) one sample at a time against ``reference_outputs``: the
   largest difference in LSB (an absolute difference, "abs", for the float outputs int16x8
   keeps), next to the tflm report's. It is printed, not judged: no target claims
   XNNPACK's numbers.

Exits 1 when any Vela figure, CPU operator count or TFLite Micro arena disagrees.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODES = ("full_int8", "int16x8")
ETHOS_U = {"ethos-u55": "ethos-u55-128", "ethos-u65": "ethos-u65-256", "ethos-u85": "ethos-u85-256"}
NPU_OPERATOR = "ethos-u"
ALIGN = 16
KIB = 1024
FIGURES = ("sram_bytes", "flash_bytes", "dram_bytes", "cycles", "inference_us")

MICRO = r"""
import re, sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime

path, arena, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = open(path, "rb").read()
try:
    it = runtime.Interpreter.from_bytes(data, arena_size=arena)
    for i in range(count):
        detail = it.get_input_details(i)
        it.set_input(np.zeros(detail["shape"], detail["dtype"]), i)
    it.invoke()
except RuntimeError as exc:
    print(f"RuntimeError: {str(exc).splitlines()[0] if str(exc) else ''}")
    sys.exit(1)
sys.stderr.flush()
it.print_allocations()
"""
"""The child run by hand: exit 0 when the model allocates and invokes in the arena."""

TOTAL = "[RecordingMicroAllocator] Arena allocation total "


def models(cache_dir: str):
    """(label, model) for every declared model under each of MODES it declares."""
    from pytest_tflite import Converter
    from pytest_tflite.declared.checks import declared_in
    from suites import tflite_models

    converter = Converter(cache_dir)
    found = []
    for declared in declared_in(tflite_models):
        for mode in MODES:
            if declared.modes is not None and mode not in declared.modes:
                continue
            model = converter.convert(
                declared.resolved("source"),
                mode,
                representative_data=declared.resolved("representative_data"),
                name=declared.name,
            )
            found.append((f"{declared.name} {mode}", model))
    return found, dict(converter.stats)


# --- 1. Ethos-U -----------------------------------------------------------------------

def number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def vela_by_hand(content: bytes, accelerator: str, timeout: float) -> dict:
    """Vela's console script on ``content``: its summary figures and CPU operator count."""
    from pytest_tflite import TFLiteModel

    vela = Path(sys.executable).with_name("vela")
    with tempfile.TemporaryDirectory(prefix="bench-arm-vela-") as folder:
        work = Path(folder)
        (work / "m.tflite").write_bytes(content)
        done = subprocess.run(
            [str(vela), "m.tflite", "--accelerator-config", accelerator, "--output-dir", "out"],
            cwd=work, capture_output=True, text=True, timeout=timeout, check=False,
        )
        compiled = work / "out" / "m_vela.tflite"
        summaries = sorted((work / "out").glob("m_summary_*.csv"))
        if done.returncode != 0 or not compiled.is_file() or not summaries:
            last = (done.stdout + done.stderr).strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            return {"failure": f"vela exit {done.returncode}: {last[0]}"}
        with summaries[0].open(newline="", encoding="utf-8") as handle:
            row = next(csv.DictReader(handle))
        ops = TFLiteModel(compiled.read_bytes(), name="m_vela").operators
    found: dict = {"failure": None, "accelerator_configuration": row.get("accelerator_configuration")}
    for key, column in (("sram_bytes", "sram_memory_used"), ("dram_bytes", "dram_memory_used")):
        if (value := number(row.get(column))) is not None:
            found[key] = round(value * KIB)
    flash = [number(row.get(c)) for c in ("on_chip_flash_memory_used", "off_chip_flash_memory_used")]
    if any(v is not None for v in flash):
        found["flash_bytes"] = round(sum(v or 0.0 for v in flash) * KIB)
    if (cycles := number(row.get("cycles_total"))) is not None:
        found["cycles"] = int(cycles)
    if (seconds := number(row.get("inference_time"))) is not None:
        found["inference_us"] = seconds * 1e6
    found["cpu_ops"] = sum(op.name != NPU_OPERATOR for op in ops)
    found["npu_ops"] = sum(op.name == NPU_OPERATOR for op in ops)
    return found


def same_figure(key: str, plugin, hand) -> bool:
    if plugin is None or hand is None:
        return plugin is None and hand is None
    if key == "inference_us":
        return abs(float(plugin) - float(hand)) <= 1e-3
    return plugin == hand


def bench_vela(found, timeout: float) -> tuple[list[list], list[str], int]:
    from pytest_tflite import check

    rows, problems, agreeing = [], [], 0
    for label, model in found:
        for target, accelerator in ETHOS_U.items():
            start = time.perf_counter()
            report = check(model, target)
            plugin_s = time.perf_counter() - start
            start = time.perf_counter()
            hand = vela_by_hand(model.content, accelerator, timeout)
            hand_s = time.perf_counter() - start
            where = f"{label} {target}"
            details = report.details
            differ = []
            if report.failure or hand["failure"]:
                if not (report.failure and hand["failure"]):
                    differ.append(f"failure: plugin {report.failure!r}, by hand {hand['failure']!r}")
            else:
                for key in FIGURES:
                    if not same_figure(key, details.get(key), hand.get(key)):
                        differ.append(f"{key}: plugin {details.get(key)}, by hand {hand.get(key)}")
                if details.get("accelerator_configuration") != hand["accelerator_configuration"]:
                    differ.append(
                        f"accelerator: plugin {details.get('accelerator_configuration')}, "
                        f"by hand {hand['accelerator_configuration']}"
                    )
                if report.ops_on_cpu != hand["cpu_ops"]:
                    differ.append(f"CPU operators: plugin {report.ops_on_cpu}, by hand {hand['cpu_ops']}")
            problems += [f"{where}: {d}" for d in differ]
            agreeing += not differ
            rows.append([
                label, target, len(model.operators),
                f"{report.ops_on_cpu}/{hand.get('cpu_ops', '-')}",
                details.get("sram_bytes"), details.get("flash_bytes"), details.get("dram_bytes"),
                details.get("cycles"), details.get("inference_us"),
                f"{plugin_s:.2f}", f"{hand_s:.2f}", "yes" if not differ else "NO",
            ])
    return rows, problems, agreeing


# --- 2. TFLite Micro ------------------------------------------------------------------

def difference_text(details: dict) -> str | None:
    """The report's TFLite Micro against reference difference: LSB for integer outputs, an
    absolute difference ("abs") for float ones (int16x8 keeps float inputs and outputs)."""
    if "max_diff_lsb" in details:
        return f"{details['max_diff_lsb']} ({details.get('compared_samples')} samples)"
    if "max_abs_diff" in details:
        return f"{details['max_abs_diff']:.3g} abs ({details.get('compared_samples')} samples)"
    return None


def micro_by_hand(path: Path, arena: int, inputs: int, timeout: float) -> tuple[bool, int | None, str]:
    """Whether the model allocates and invokes on zeros in ``arena`` bytes, the recorder's
    total, and how a failure ended."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", MICRO, str(path), str(arena), str(inputs)],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired:
        return False, None, "timeout"
    total = None
    for line in done.stderr.splitlines():
        if TOTAL in line:
            total = int(line.split(TOTAL, 1)[1].split()[0])
    if done.returncode < 0:
        return False, None, f"signal {-done.returncode}"
    if done.returncode != 0:
        said = done.stdout.strip().splitlines()[-1:] or done.stderr.strip().splitlines()[-1:] or ["?"]
        return False, None, said[0][:48]
    return True, total, "ok"


def bench_micro(found, timeout: float) -> tuple[list[list], list[str], int, dict[str, str | None]]:
    from pytest_tflite import check

    rows, problems, agreeing, lsb = [], [], 0, {}
    with tempfile.TemporaryDirectory(prefix="bench-arm-tflm-") as folder:
        for k, (label, model) in enumerate(found):
            start = time.perf_counter()
            report = check(model, "tflm")
            plugin_s = time.perf_counter() - start
            details = report.details
            arena = details.get("arena_bytes")
            lsb[label] = difference_text(details)
            if arena is None:
                problems.append(f"{label}: the tflm report has no arena_bytes ({report.failure})")
                rows.append([label, None, None, None, None, None, None, lsb[label], f"{plugin_s:.2f}", "-", "NO"])
                continue
            path = Path(folder) / f"m{k}.tflite"
            path.write_bytes(model.content)
            start = time.perf_counter()
            works, total, _ = micro_by_hand(path, arena, len(model.inputs), timeout)
            smaller, _, how = micro_by_hand(path, arena - ALIGN, len(model.inputs), timeout)
            hand_s = time.perf_counter() - start
            differ = []
            if not works:
                differ.append(f"the reported arena of {arena} bytes does not work by hand")
            if smaller:
                differ.append(f"an arena of {arena - ALIGN} bytes works by hand too: {arena} is not the minimum")
            problems += [f"{label}: {d}" for d in differ]
            agreeing += not differ
            rows.append([
                label, arena, details.get("reported_arena_bytes"), total,
                "yes" if works else "no", "no" if not smaller else "YES", how if not smaller else "",
                lsb[label], f"{plugin_s:.2f}", f"{hand_s:.2f}", "yes" if not differ else "NO",
            ])
    return rows, problems, agreeing, lsb


# --- 3. XNNPACK against the reference kernels -------------------------------------------

def xnnpack_outputs(model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """LiteRT's default kernels (XNNPACK) on the raw inputs, one sample at a time."""
    from pytest_tflite.targets.tflm import reference_outputs

    return reference_outputs(model, inputs, kernels="xnnpack")


def largest_difference(first: list[np.ndarray], second: list[np.ndarray]) -> float:
    return max(
        (float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) for a, b in zip(first, second) if a.size),
        default=0.0,
    )


def bench_xnnpack(found, samples: int, micro_lsb: dict[str, str | None]) -> list[list]:
    from pytest_tflite.targets.tflm import reference_outputs, seeded_inputs

    rows = []
    for label, model in found:
        inputs = seeded_inputs(model, samples)
        start = time.perf_counter()
        reference = reference_outputs(model, inputs)
        reference_s = time.perf_counter() - start
        start = time.perf_counter()
        xnnpack = xnnpack_outputs(model, inputs)
        xnnpack_s = time.perf_counter() - start
        diff = largest_difference(xnnpack, [r.reshape(x.shape) for r, x in zip(reference, xnnpack)])
        integer = all(r.dtype.kind in "iu" for r in reference)
        dtypes = ",".join(sorted({str(r.dtype) for r in reference}))
        rows.append([
            label, dtypes, samples, int(diff) if integer else f"{diff:.3g} abs", micro_lsb.get(label),
            f"{reference_s * 1000:.0f}", f"{xnnpack_s * 1000:.0f}",
        ])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default="/tmp/suitecache2", help="conversion cache (default: /tmp/suitecache2)")
    parser.add_argument("--samples", type=int, default=16, help="seeded inputs for XNNPACK against reference (16)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per tool run by hand (300)")
    args = parser.parse_args()

    started = time.perf_counter()
    found, stats = models(args.cache_dir)
    converted = ", ".join(f"{n} {kind}" for kind, n in sorted(stats.items()))
    print(f"{len(found)} models ({converted}) in {time.perf_counter() - started:.1f} s")

    print("\n1. Ethos-U: check() against vela by hand (figures as the report gives them)")
    vela_rows, vela_problems, vela_ok = bench_vela(found, args.timeout)
    print(tabulate(vela_rows, headers=[
        "model", "target", "ops", "cpu ops plugin/hand", "sram B", "flash B", "dram B", "cycles", "µs",
        "plugin s", "hand s", "equal",
    ]))

    print("\n2. TFLite Micro: the reported arena by hand, and 16 bytes less")
    micro_rows, micro_problems, micro_ok, micro_lsb = bench_micro(found, args.timeout)
    print(tabulate(micro_rows, headers=[
        "model", "arena_bytes", "reported total", "total by hand", "works", "-16 works", "-16 ended",
        "tflm vs ref", "plugin s", "hand s", "minimal",
    ]))

    print(f"\n3. XNNPACK (LiteRT default) against LiteRT's reference kernels, {args.samples} seeded inputs")
    print(tabulate(bench_xnnpack(found, args.samples, micro_lsb), headers=[
        "model", "outputs", "samples", "xnnpack vs ref", "tflm vs ref (report)", "reference ms", "xnnpack ms",
    ]))

    problems = vela_problems + micro_problems
    print(
        f"\nVela: {vela_ok}/{len(vela_rows)} model×target figures equal; "
        f"TFLite Micro: {micro_ok}/{len(micro_rows)} arenas minimal"
    )
    for problem in problems:
        print(f"  disagrees: {problem}")
    print(f"wall time {time.perf_counter() - started:.1f} s")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
