"""The ``ethos-u55``, ``ethos-u65`` and ``ethos-u85`` targets: Vela's own verdict.

Nothing is predicted: every report is what Vela did with the model's bytes (``static``
is False), so the options are Vela's own flags. An operator Vela left to the CPU carries
Vela's reason; the model's SRAM, flash and DRAM use, cycles and estimated inference time
come from Vela's summary, and its per-layer table goes into the details.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..compatibility import ON_CPU, ON_TARGET, CompatibilityReport, OpPlacement
from ..engine import default_options, is_positive_number, one_of, read_settings, setting
from ..registry import Target
from .vela import VelaRun, run_vela

if TYPE_CHECKING:
    from ...model.flatbuffer import Operator, TFLiteModel

ACCELERATORS: Mapping[str, tuple[int, ...]] = {
    "ethos-u55": (32, 64, 128, 256),
    "ethos-u65": (256, 512),
    "ethos-u85": (128, 256, 512, 1024, 2048),
}
"""Vela's ``--accelerator-config`` choices per NPU: the MACs per cycle of each build."""
DEFAULT_MACS = {"ethos-u55": 128, "ethos-u65": 256, "ethos-u85": 256}
OPTIMISE = ("Performance", "Size")
KIB = 1024

MAPPED = "mapped to the NPU by Vela"
NO_REASON = "left to the CPU by Vela (it gave no reason)"
FIX_FLOAT = "Convert with full integer quantization (full_int8 or int16x8): the NPU computes in int8 and int16"
FIX_OPERATOR = (
    "Replace the layer with operators the Ethos-U supports (vela --supported-ops-report lists "
    "them and their limits), or accept it on the CPU"
)


def _is_optional_text(value: object) -> bool:
    return value is None or (isinstance(value, str) and bool(value.strip()))


def _is_optional_size(value: object) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0)


@dataclasses.dataclass(frozen=True)
class Settings:
    """The options of an Ethos-U target, named as Vela names its flags."""

    accelerator_config: str | None = setting(
        None, _is_optional_text, "Vela's --accelerator-config, such as ethos-u55-128"
    )
    system_config: str | None = setting(
        None, _is_optional_text, "a system configuration of Vela's config file, such as Ethos_U55_High_End_Embedded"
    )
    memory_mode: str | None = setting(
        None, _is_optional_text, "a memory mode of Vela's config file, such as Shared_Sram"
    )
    optimise: str = setting("Performance", one_of(OPTIMISE), "Performance or Size")
    config: str | None = setting(None, _is_optional_text, "the path of a Vela config file (.ini)")
    arena_cache_size: int | None = setting(None, _is_optional_size, "a positive number of bytes")
    timeout: float = setting(120.0, is_positive_number, "a positive number of seconds")

    def arguments(self, family: str) -> list[str]:
        """Vela's command-line flags for these settings."""
        accelerator = self.accelerator_config or f"{family}-{DEFAULT_MACS[family]}"
        flags = ["--accelerator-config", accelerator, "--optimise", self.optimise]
        for flag, value in (
            ("--system-config", self.system_config),
            ("--memory-mode", self.memory_mode),
            ("--config", self.config),
            ("--arena-cache-size", self.arena_cache_size),
        ):
            if value is not None:
                flags += [flag, str(value)]
        return flags


def settings_for(family: str, options: Mapping[str, object]) -> Settings:
    """The options read and checked against what Vela accepts for this NPU."""
    from ...errors import TargetError

    settings = read_settings(Settings, family, options)
    accelerator = settings.accelerator_config
    choices = [f"{family}-{macs}" for macs in ACCELERATORS[family]]
    if accelerator is not None and accelerator not in choices:
        raise TargetError(
            f"{family} target: accelerator_config must be one of Vela's {family} builds, not {accelerator!r}",
            hint=f"Choose one of: {', '.join(choices)}",
        )
    if settings.config is not None and not Path(settings.config).is_file():
        raise TargetError(
            f"{family} target: the Vela config file {settings.config} does not exist",
            hint="Give the path of a Vela .ini file (relative to where pytest runs), or leave config out",
        )
    return settings


def analyze(model: TFLiteModel, options: Mapping[str, object], *, family: str, title: str) -> CompatibilityReport:
    """Compile the model with Vela for this NPU and report what it did."""
    settings = settings_for(family, options)
    run = run_vela(model.content, settings.arguments(family), timeout=settings.timeout)
    if run.ok:
        ops, notes = [_placement(op, model, run) for op in model.operators], _notes(run)
    else:
        ops, notes = [_unplaced(op, run) for op in model.operators], []
    return CompatibilityReport(
        target=family,
        model=model.name,
        mode=model.mode,
        ops=tuple(ops),
        static=False,
        failure=run.failure,
        notes=tuple(notes),
        details=_details(run, settings),
        target_title=title,
    )


def _placement(op: Operator, model: TFLiteModel, run: VelaRun) -> OpPlacement:
    outputs = tuple(model.tensors[t].name for t in op.outputs)
    on_cpu = any(kind == op.name and names == outputs for kind, names in run.cpu_operators) or any(
        set(names) & set(outputs) for _, names in run.cpu_operators
    )
    if not on_cpu:
        return OpPlacement(op.index, op.name, op.version, ON_TARGET, MAPPED)
    reason = next((r.reason for r in run.refusals if r.op == op.name and r.output in outputs), None)
    fix = FIX_FLOAT if reason and "Float32" in reason else FIX_OPERATOR
    return OpPlacement(op.index, op.name, op.version, ON_CPU, f"Vela: {reason}" if reason else NO_REASON, fix)


def _unplaced(op: Operator, run: VelaRun) -> OpPlacement:
    """An operator of a model Vela did not compile: it stays on the CPU, if it runs at all."""
    return OpPlacement(op.index, op.name, op.version, ON_CPU, f"not compiled: {run.failure}")


def _notes(run: VelaRun) -> list[str]:
    notes = [f"compiled by Vela {run.version}"]
    notes += [
        f"Vela used its default {what}: {value}" for what, value in run.defaults.items() if what != "configuration file"
    ]
    if run.npu_operators > 1:
        notes.append(f"the NPU runs {run.npu_operators} separate partitions, with CPU operators between them")
    return notes


def _details(run: VelaRun, settings: Settings) -> dict[str, Any]:
    details: dict[str, Any] = {
        "tool": f"ethos-u-vela {run.version}",
        "vela_seconds": round(run.seconds, 3),
        "optimise": settings.optimise,
        **figures(run.summary),
    }
    summary = run.summary
    for name, key in (
        ("accelerator_configuration", "accelerator_configuration"),
        ("system_config", "system_config"),
        ("memory_mode", "memory_mode"),
        ("weights_storage_area", "weights_storage_area"),
        ("feature_map_storage_area", "feature_map_storage_area"),
    ):
        if summary.get(key):
            details[name] = summary[key]
    for name, key in (("core_clock_hz", "core_clock"), ("nn_macs", "nn_macs"), ("npu_cycles", "cycles_npu")):
        if (value := _number(summary.get(key))) is not None:
            details[name] = int(value)
    if run.layers and run.layers[0]:
        details["layers"] = [_layer(row) for row in run.layers]
    if run.npu_operators:
        details["npu_partitions"] = run.npu_operators
    if run.log and not run.ok:
        details["vela_log"] = run.log[-4000:]
    return details


def figures(summary: Mapping[str, str]) -> dict[str, float | int]:
    """The gate's figures from Vela's summary CSV (its memory is in KiB, its time in seconds)."""
    found: dict[str, float | int] = {}
    sram = _number(summary.get("sram_memory_used"))
    if sram is not None:
        found["sram_bytes"] = round(sram * KIB)
    flash = [_number(summary.get(k)) for k in ("on_chip_flash_memory_used", "off_chip_flash_memory_used")]
    if any(v is not None for v in flash):
        found["flash_bytes"] = round(sum(v or 0.0 for v in flash) * KIB)
    dram = _number(summary.get("dram_memory_used"))
    if dram is not None:
        found["dram_bytes"] = round(dram * KIB)
    cycles = _number(summary.get("cycles_total"))
    if cycles is not None:
        found["cycles"] = int(cycles)
    seconds = _number(summary.get("inference_time"))
    if seconds is not None:
        found["inference_us"] = round(seconds * 1e6, 3)
    return found


_LAYER_COLUMNS = {
    "Original Operator": "original_operator",
    "NNG Operator": "operator",
    "Target": "runs_on",
    "Op Cycles": "cycles",
    "NPU": "npu_cycles",
    "MAC Count": "macs",
    "Staging Usage": "staging_bytes",
    "Name": "name",
}


_TEXT_COLUMNS = {"original_operator", "operator", "runs_on", "name"}


def _layer(row: Mapping[str, str]) -> dict[str, Any]:
    """One row of Vela's per-layer table, with numbers as numbers."""
    layer: dict[str, Any] = {}
    for column, name in _LAYER_COLUMNS.items():
        if column not in row:
            continue
        value = None if name in _TEXT_COLUMNS else _number(row[column])
        layer[name] = int(value) if value is not None else row[column]
    return layer


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def ethos_u_target(family: str, title: str, description: str) -> Target:
    """One Ethos-U NPU as a target: integer arithmetic only, compiled by Vela."""

    def analyze_for(model: TFLiteModel, options: Mapping[str, object]) -> CompatibilityReport:
        return analyze(model, options, family=family, title=title)

    return Target(
        name=family,
        title=title,
        description=description,
        analyze=analyze_for,
        accepts=("int8", "int16"),
        options=default_options(Settings),
        hybrid=False,
    )


ETHOS_U55 = ethos_u_target(
    "ethos-u55", "Ethos-U55", "Arm's Ethos-U55 microNPU (Cortex-M systems), as Vela compiles for it"
)
ETHOS_U65 = ethos_u_target(
    "ethos-u65", "Ethos-U65", "Arm's Ethos-U65 microNPU (Cortex-M and Cortex-A systems), as Vela compiles for it"
)
ETHOS_U85 = ethos_u_target(
    "ethos-u85", "Ethos-U85", "Arm's Ethos-U85 NPU (transformer-capable), as Vela compiles for it"
)
