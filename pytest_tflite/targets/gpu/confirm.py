"""Confirming the gpu target's prediction on this machine's GPU, with LiteRT's ``CompiledModel``.

LiteRT's GPU accelerator is a different engine from the TFLite GPU delegate whose rules
the prediction follows, so a disagreement is reported, not hidden. The model is compiled
in a child process: LiteRT's native logging floods stderr, and a broken GPU driver may
crash or hang.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ...errors import TargetError
from ..compatibility import OpPlacement

if TYPE_CHECKING:
    from ...model.flatbuffer import TFLiteModel

CONFIRM_MODES = ("auto", "never", "always")
"""``auto`` confirms when a graphics API is found, ``never`` only predicts, ``always``
fails without a GPU."""


@dataclasses.dataclass(frozen=True)
class Probe:
    """What LiteRT said when asked to compile the model for the GPU."""

    ok: bool
    fully_accelerated: bool | None = None
    error: str = ""
    detail: str = ""
    seconds: float = 0.0


@dataclasses.dataclass(frozen=True)
class Confirmation:
    """What confirmation adds to a prediction: notes, figures, and whether the report
    stays a prediction (static)."""

    notes: tuple[str, ...]
    details: dict[str, object]
    static: bool


def confirm(
    model: TFLiteModel,
    placements: Sequence[OpPlacement],
    *,
    mode: str,
    timeout: float,
    predicted_from: str,
) -> Confirmation:
    """Confirm the predicted ``placements`` as ``mode`` (one of :data:`CONFIRM_MODES`) says."""
    if mode == "never":
        note = f"predicted from {predicted_from}; run-time confirmation is off (confirm='never')"
        return Confirmation((note,), {"confirmed": False}, static=True)
    if gpu_api_available() is None and mode == "auto":
        note = f"predicted from {predicted_from}, because no GPU adapter was found ({_missing_api_text()})"
        return Confirmation((note,), {"confirmed": False}, static=True)
    probe = confirm_on_gpu(model.content, timeout=timeout)
    details: dict[str, object] = {"confirm_seconds": round(probe.seconds, 3)}
    if not probe.ok:
        if mode == "always":
            raise TargetError(
                "no GPU is available to confirm the placement on the mobile GPU target "
                f"({probe.error})",
                source=model.name,
                mode=model.mode,
                hint="Run on a machine with a GPU driver (Vulkan, Metal or Direct3D 12), "
                "or use confirm='auto' to fall back to the predicted placement",
                detail=_log_problems(probe.detail),
            )
        note = f"predicted from {predicted_from}, because no GPU adapter was usable: {probe.error}"
        return Confirmation((note,), {**details, "confirmed": False}, static=True)
    details.update(confirmed=True, gpu_fully_accelerated=probe.fully_accelerated)
    notes = [
        "confirmed with LiteRT on this machine's GPU: CompiledModel.is_fully_accelerated() "
        f"returned {probe.fully_accelerated}"
    ]
    predicted_full = all(p.on_target for p in placements)
    if probe.fully_accelerated != predicted_full:
        predicted = "every operator on the GPU" if predicted_full else "some operators on the CPU"
        notes.append(
            f"LiteRT disagrees with the prediction ({predicted}): its GPU accelerator is not "
            "the TFLite GPU delegate and has its own operator coverage; the per-operator "
            "placement above is the delegate's"
        )
    return Confirmation(tuple(notes), details, static=False)


def gpu_api_available() -> str | None:
    """The graphics API LiteRT's WebGPU accelerator would use here, if its library loads.

    Cheap (a dlopen on Linux, nothing elsewhere): without a Vulkan loader Dawn finds no
    adapter, so there is no point starting LiteRT.
    """
    if sys.platform == "darwin":
        return "Metal"
    if sys.platform == "win32":
        return "Direct3D 12"
    try:
        ctypes.CDLL("libvulkan.so.1")
    except OSError:
        return None
    return "Vulkan"


def _missing_api_text() -> str:
    if sys.platform.startswith("linux"):
        return "no Vulkan loader, libvulkan.so.1, on this machine"
    return "no supported graphics API on this platform"


_PROBE = """
import json, sys
from ai_edge_litert.compiled_model import CompiledModel
from ai_edge_litert.hardware_accelerator import HardwareAccelerator
data = sys.stdin.buffer.read()
try:
    model = CompiledModel.from_buffer(
        data, hardware_accel=HardwareAccelerator.GPU | HardwareAccelerator.CPU)
    result = {"ok": True, "fully": bool(model.is_fully_accelerated())}
except Exception as exc:
    result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
print("\\n" + json.dumps(result))
"""


def confirm_on_gpu(content: bytes, *, timeout: float = 60.0) -> Probe:
    """Compile the model for LiteRT's GPU accelerator in a child process.

    A child process because LiteRT's native logging floods stderr, and because a broken
    GPU driver may crash or hang: the child is killed after ``timeout`` seconds.
    """
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE],
            input=content,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return Probe(
            ok=False,
            error=f"LiteRT did not finish compiling for the GPU within {timeout:g} s",
            detail=_text(exc.stderr),
            seconds=time.perf_counter() - start,
        )
    except OSError as exc:
        return Probe(
            ok=False, error=f"could not start LiteRT: {exc}", seconds=time.perf_counter() - start
        )
    seconds = time.perf_counter() - start
    stderr = _text(done.stderr)
    result = _last_json(_text(done.stdout))
    if result is None:
        return Probe(
            ok=False,
            error=f"LiteRT exited with status {done.returncode} before answering",
            detail=stderr,
            seconds=seconds,
        )
    if result.get("ok"):
        fully = bool(result.get("fully"))
        return Probe(ok=True, fully_accelerated=fully, detail=stderr, seconds=seconds)
    error = _adapter_error(stderr, str(result.get("error", "")))
    return Probe(ok=False, error=error, detail=stderr, seconds=seconds)


def _last_json(stdout: str) -> dict[str, object] | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _adapter_error(stderr: str, error: str) -> str:
    """The line of LiteRT's log that says why, rather than its bare source location."""
    lines = stderr.splitlines()
    for word in ("adapter", "vulkan"):
        for line in lines:
            if word in line.lower():
                return line.strip().split("] ", 1)[-1]
    return error.splitlines()[0] if error else "LiteRT could not create a GPU model"


def _log_problems(stderr: str) -> str:
    """LiteRT's log without its INFO chatter: the warnings and errors worth showing."""
    return "\n".join(
        line for line in stderr.splitlines() if line.strip() and not line.startswith("INFO:")
    )


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data
