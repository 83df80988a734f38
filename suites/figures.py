"""Print the example suite's figures as Markdown tables: ``python -m suites.figures``.

Read from the committed golden baselines (``golden/<model>/<mode>.json``), not measured
again, so the tables in suites/README.md are what the gate compares against. For every declared
model and mode: size, gzipped size, accuracy on the held-out digits, top-1 agreement and
signal-to-noise ratio against the float32 conversion, and operators on each target
("skip" where a target never runs the mode, such as float on the Edge TPU). Then the
dense classifier next to the figures of the source article.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_tflite.conversion.modes import mode_names
from pytest_tflite.declared.checks import declared_in
from pytest_tflite.gate.golden import golden_path, read_golden
from suites import tflite_models

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("cpu", "gpu", "edgetpu", "ethos-u55", "ethos-u65", "ethos-u85", "tflm")
DEVICE_MODES = ("full_int8", "int16x8")
"""The modes the microcontroller and NPU figures are shown for (the ones those targets run whole)."""
KIB = 1024
ARTICLE = (
    # mode, the article's figures (size, accuracy), what the article measured
    ("float32", "412 KB, 97.4%", "the float model"),
    ("dynamic_int8", "106 KB, 97.38%", "post-training quantization, the converter's default"),
    ("qat_int8", "106 KB, 93.36%", "quantization-aware training, converted"),
    ("clustered", "zipped 56 KB (float: 384 KB)", "weight clustering, compressed"),
)


def baselines(golden_dir: Path) -> Iterable[tuple[str, str, Mapping[str, Any] | None]]:
    """(model, mode, baseline or None) for every declared model and mode, in order."""
    for declared in declared_in(tflite_models):
        for mode in declared.modes or mode_names():
            yield declared.name, mode, read_golden(golden_path(golden_dir, declared.name, mode))


def row(model: str, mode: str, golden: Mapping[str, Any] | None) -> str:
    if golden is None:
        return f"| {model} | `{mode}` | no baseline |" + " |" * (5 + len(TARGETS))
    metric = (golden.get("metric") or {}).get("value")
    fidelity = golden.get("fidelity") or {}
    targets = golden.get("targets") or {}
    cells = [
        model,
        f"`{mode}`",
        f"{golden['size_bytes']:,}",
        f"{golden['gzip_size_bytes']:,}",
        "-" if metric is None else f"{metric:.2%}",
        _agreement(mode, fidelity),
        _sqnr(mode, fidelity),
        *(_placement(targets.get(target)) for target in TARGETS),
    ]
    return "| " + " | ".join(cells) + " |"


def _agreement(mode: str, fidelity: Mapping[str, Any]) -> str:
    if mode == "float32":
        return "(reference)"
    return "-" if "agreement" not in fidelity else f"{fidelity['agreement']:.1%}"


def _sqnr(mode: str, fidelity: Mapping[str, Any]) -> str:
    if mode == "float32" or "sqnr_db" not in fidelity:
        return "-"
    return f"{fidelity['sqnr_db']:.1f}"


def _placement(entry: Mapping[str, Any] | None) -> str:
    return "skip" if entry is None else f"{entry['ops_on_target']}/{entry['ops_total']}"


def table(golden_dir: Path) -> list[str]:
    targets = " | ".join(f"{t} ops" for t in TARGETS)
    lines = [
        f"| model | mode | size (bytes) | gzipped (bytes) | accuracy | top-1 agreement | SQNR (dB) | {targets} |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | " + " | ".join("---:" for _ in TARGETS) + " |",
    ]
    return lines + [row(*found) for found in baselines(golden_dir)]


def device_table(golden_dir: Path) -> list[str]:
    """What the real tools measured: TFLite Micro's smallest arena, and Vela's memory,
    cycles and estimated time on the U55-128 (weights in flash) and the U85-256 (in DRAM)."""
    lines = [
        "| model | mode | tflm arena | U55 SRAM | U55 flash | U55 cycles | U55 time | U85 SRAM | U85 DRAM | U85 time |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for model, mode, golden in baselines(golden_dir):
        if mode not in DEVICE_MODES or golden is None:
            continue
        targets = golden.get("targets") or {}
        tflm, u55, u85 = (targets.get(t) or {} for t in ("tflm", "ethos-u55", "ethos-u85"))
        cells = [
            model, f"`{mode}`", _kib(tflm.get("arena_bytes")),
            _kib(u55.get("sram_bytes")), _kib(u55.get("flash_bytes")), _count(u55.get("cycles")),
            _micros(u55.get("inference_us")),
            _kib(u85.get("sram_bytes")), _kib(u85.get("dram_bytes")), _micros(u85.get("inference_us")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _kib(value: int | None) -> str:
    return "-" if value is None else f"{value / KIB:.1f} KiB"


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _micros(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} µs"


def article_table(golden_dir: Path) -> list[str]:
    """The dense classifier's baselines next to the source article's MNIST figures."""
    lines = [
        "| mode | what | the article (MNIST) | ours (digits) |",
        "| --- | --- | --- | --- |",
    ]
    float32 = read_golden(golden_path(golden_dir, "dense_mlp", "float32")) or {}
    for mode, theirs, what in ARTICLE:
        golden = read_golden(golden_path(golden_dir, "dense_mlp", mode)) or {}
        if not golden:
            ours = "no baseline"
        elif mode == "clustered":
            ours = (
                f"gzipped {golden['gzip_size_bytes'] / KIB:.1f} KiB (float: "
                f"{float32.get('gzip_size_bytes', 0) / KIB:.1f} KiB), {golden['metric']['value']:.2%}"
            )
        else:
            ours = f"{golden['size_bytes'] / KIB:.1f} KiB, {golden['metric']['value']:.2%}"
        lines.append(f"| `{mode}` | {what} | {theirs} | {ours} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--golden-dir", type=Path, default=ROOT / "golden", help="baseline folder (default: golden/)")
    golden_dir = parser.parse_args(argv).golden_dir
    print("\n".join(table(golden_dir)))
    print()
    print("\n".join(device_table(golden_dir)))
    print()
    print("\n".join(article_table(golden_dir)))


if __name__ == "__main__":
    main()
