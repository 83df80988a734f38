"""Predictions on real third-party models, checked against where they are known to run.

The models and the evidence for their real placement are in ``tests/data/real``
(``PROVENANCE.md``).
"""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import pytest

from pytest_tflite import TFLiteModel, check
from pytest_tflite.targets.compatibility import COMPATIBLE, ON_CPU, ON_TARGET
from pytest_tflite.targets.edgetpu import format_compiler_log
from pytest_tflite.targets.gpu import GPU

REAL = Path(__file__).parent / "data" / "real"
_PROVENANCE_ROW = re.compile(
    r"^\| `(?P<file>[^`]+\.tflite)` \| `(?P<sha256>[0-9a-f]{64})` \|", re.MULTILINE
)


def real_model(name: str) -> TFLiteModel:
    """A vendored model, read from ``tests/data/real``."""
    return TFLiteModel.from_file(REAL / name)


def recorded_sha256() -> dict[str, str]:
    """File name -> SHA-256, as ``PROVENANCE.md`` records them."""
    text = (REAL / "PROVENANCE.md").read_text(encoding="utf-8")
    return {m["file"]: m["sha256"] for m in _PROVENANCE_ROW.finditer(text)}


def test_every_vendored_model_is_recorded_with_its_hash():
    recorded = recorded_sha256()
    on_disk = sorted(p.name for p in REAL.glob("*.tflite"))
    assert sorted(recorded) == on_disk
    for name, sha256 in recorded.items():
        assert hashlib.sha256((REAL / name).read_bytes()).hexdigest() == sha256, name


def test_every_vendored_model_is_recorded():
    on_disk = {p.name for p in REAL.iterdir() if ".tflite" in p.name}
    text = (REAL / "PROVENANCE.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in text for name in on_disk)


def test_vendored_models_have_their_license():
    assert "Apache License" in (REAL / "LICENSE-mediapipe").read_text(encoding="utf-8")


# --- gpu ------------------------------------------------------------------------------

GPU_STATIC = GPU.with_options(confirm="never", delegate="classic")
"""MediaPipe runs these models with the TFLite GPU delegate (the classic one)."""
LITERT_STATIC = GPU.with_options(confirm="never")

MEDIAPIPE_GPU_GRAPHS = [
    "face_detection_short_range.tflite",
    "selfie_segmentation.tflite",
    "face_detection_full_range_sparse.tflite",
]
"""Models MediaPipe runs in its GPU graphs: all of each on the GPU, in one partition."""


@pytest.mark.parametrize("name", MEDIAPIPE_GPU_GRAPHS)
def test_mediapipe_gpu_models_are_fully_delegated(name):
    report = GPU_STATIC.check(real_model(name))
    assert report.verdict == COMPATIBLE, report.summary()
    assert report.ops_on_target == report.ops_total
    assert report.details["delegated_partitions"] == 1
    assert report.details["delegated_partition_sizes"] == [report.ops_total]


def test_sparse_weights_are_merged_into_the_convolutions():
    report = GPU_STATIC.check(real_model("face_detection_full_range_sparse.tflite"))
    densify = [p for p in report.ops if p.op == "DENSIFY"]
    assert len(densify) == 46
    assert all(p.runs_on == ON_TARGET for p in densify)
    assert all("densifies them once" in p.reason for p in densify), densify[0].reason
    # Without full delegation, the float16 DEQUANTIZE nodes would cut the graph in two.
    assert len(report.details["partition_sizes"]) == 2
    assert any("whole model" in note for note in report.notes)


def test_litert_accelerator_has_no_densify_so_the_sparse_model_runs_mostly_on_the_cpu():
    """ML Drift has no DENSIFY parser and no DEQUANTIZE of a non-quantized runtime tensor;
    the accelerator on lavapipe logs 159 of the 388 operators on the GPU, as here."""
    report = LITERT_STATIC.check(real_model("face_detection_full_range_sparse.tflite"))
    assert report.ops_on_target == 159
    densify = [p for p in report.ops if p.op == "DENSIFY"]
    assert all(p.runs_on == ON_CPU and "Operation is not supported." in p.reason for p in densify)
    after = [p for p in report.ops if p.op == "DEQUANTIZE" and "Dequantize for Densify" in p.reason]
    assert len(after) == 46


def test_selfie_segmentation_custom_transpose_conv_runs_on_the_gpu():
    report = GPU_STATIC.check(real_model("selfie_segmentation.tflite"))
    (custom,) = [p for p in report.ops if p.op == "Convolution2DTransposeBias"]
    assert custom.runs_on == ON_TARGET


# --- edgetpu --------------------------------------------------------------------------

CORAL_SSD = "coral_mobilenet_ssd_v2_coco_quant_postprocess.weightless.tflite.gz"
CORAL_SSD_SHA256 = "fa9f26ed13ab201941184afffc7f1aaf51dcecb7b29f5b3282c6ade85d8caae5"


@pytest.fixture(scope="module")
def coral_ssd() -> TFLiteModel:
    content = gzip.decompress((REAL / CORAL_SSD).read_bytes())
    assert hashlib.sha256(content).hexdigest() == CORAL_SSD_SHA256
    return TFLiteModel(content, name="mobilenet_ssd_v2_coco_quant_postprocess")


def test_coral_ssd_maps_as_the_real_compiler_did(coral_ssd):
    """The compiled twin holds one edgetpu-custom-op for 98 operators and leaves only
    TFLite_Detection_PostProcess on the CPU."""
    report = check(coral_ssd, "edgetpu")
    assert (report.ops_total, report.ops_on_target) == (99, 98)
    (cpu,) = report.off_target
    assert cpu.op == "TFLite_Detection_PostProcess" and cpu.index == 98
    assert cpu.reason == "Operation is working on an unsupported data type"
    assert report.details["edgetpu_subgraphs"] == 1
    assert report.failure is None


def test_coral_ssd_log_counts_match_the_compiled_file(coral_ssd):
    log = format_compiler_log(check(coral_ssd, "edgetpu"))
    assert "Number of Edge TPU subgraphs: 1" in log
    assert "Number of operations that will run on Edge TPU: 98" in log
    assert "Number of operations that will run on CPU: 1" in log
