"""The example suite's declared models: what each must keep under every mode and target.

Sources are the committed weight files (``python -m suites.train`` writes them); data are
functions, so collecting the checks loads nothing. Each model has an accuracy floor for
all modes and a table of the modes it runs under: per mode the largest raw and gzipped
size (about 10 % over what was measured) and the smallest share of operators every
selected target must take. ``DROPS`` bounds the accuracy each mode may lose against the
float32 conversion.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np

from pytest_tflite import Budget, DeclaredModel
from suites.digits import load_digits_28
from suites.train import COMPILE_CONFIG, weights_path


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return load_digits_28()


def training_split() -> tuple[np.ndarray, np.ndarray]:
    """What the models were trained on, and what the training-time modes fine-tune on."""
    x_train, y_train, _, _ = _digits()
    return x_train, y_train


def training_images() -> np.ndarray:
    """Calibration samples for the integer modes: the training images."""
    return _digits()[0]


def evaluation_split() -> tuple[np.ndarray, np.ndarray]:
    """The held-out quarter every accuracy is measured on."""
    _, _, x_test, y_test = _digits()
    return x_test, y_test


DROPS = {
    "dynamic_int8": 0.01,
    "float16": 0.005,
    "int8": 0.02,
    "full_int8": 0.02,
    "int16x8": 0.01,
    "qat_int8": 0.02,
    "pruned": 0.02,
    "clustered": 0.02,
    "pruned_clustered": 0.02,
    "pruned_qat_int8": 0.03,
    "clustered_qat_int8": 0.03,
    "pruned_clustered_qat_int8": 0.03,
}
"""Accuracy each mode may lose against the float32 conversion, unless a model says more."""


Limits = Mapping[str, tuple[int, int, float]]
"""mode -> (max bytes, max gzipped bytes, min share of operators on every selected target)."""


def per_mode(limits: Limits, drops: Mapping[str, float], floors: Mapping[str, float]) -> dict[str, Budget]:
    """One budget per mode: its limits, the accuracy it may lose (``DROPS`` with ``drops``
    over it) and, where given, its own accuracy floor."""
    allowed = {**DROPS, **drops}
    return {
        mode: Budget(
            max_size_bytes=size,
            max_gzip_size_bytes=gzipped,
            min_on_target=on_target,
            max_accuracy_drop=allowed.get(mode),
            min_accuracy=floors.get(mode),
        )
        for mode, (size, gzipped, on_target) in limits.items()
    }


def declare(
    name: str,
    *,
    min_accuracy: float,
    limits: Limits,
    drops: Mapping[str, float] | None = None,
    floors: Mapping[str, float] | None = None,
) -> DeclaredModel:
    """A model of this suite: its weight file, the digits splits, and its budgets for the
    modes in ``limits`` (which are the modes it runs under)."""
    return DeclaredModel(
        name,
        source=str(weights_path(name)),
        representative_data=training_images,
        training_data=training_split,
        evaluation_data=evaluation_split,
        compile_config=COMPILE_CONFIG,
        modes=list(limits),
        budget=Budget(min_accuracy=min_accuracy),
        budgets=per_mode(limits, drops or {}, floors or {}),
    )


# Where a share on target is below 1, it is the worst target's (with --tflite-target all):
# the int8 mode's float QUANTIZE/DEQUANTIZE ends stay on the Edge TPU's host CPU, and the
# int16x8 mode's on the Ethos-U's (Vela maps no float operator).
dense_mlp = declare(
    "dense_mlp",
    min_accuracy=0.95,
    limits={
        "float32": (465_000, 427_000, 1.0),
        "dynamic_int8": (122_000, 117_000, 1.0),
        "float16": (235_000, 213_000, 1.0),
        "int8": (124_000, 116_000, 0.66),
        "full_int8": (124_000, 116_000, 1.0),
        "int16x8": (127_000, 118_000, 0.66),
        "qat_int8": (120_000, 107_000, 1.0),
        "pruned": (465_000, 252_000, 1.0),
        "clustered": (465_000, 70_000, 1.0),
        "pruned_clustered": (465_000, 59_000, 1.0),
        "pruned_qat_int8": (120_000, 74_000, 1.0),
        "clustered_qat_int8": (120_000, 56_000, 1.0),
        "pruned_clustered_qat_int8": (120_000, 46_000, 1.0),
    },
)

# Pruning half the weights of the small convolutional models costs them points that two
# epochs of fine-tuning do not win back; clustering costs nothing.
PRUNING_DROPS = {"pruned": 0.08, "pruned_clustered": 0.05, "pruned_qat_int8": 0.05, "pruned_clustered_qat_int8": 0.05}

mobilenet = declare(
    "mobilenet",
    min_accuracy=0.88,
    limits={
        "float32": (88_000, 78_000, 1.0),
        "dynamic_int8": (40_000, 32_000, 1.0),
        "float16": (52_000, 41_000, 1.0),
        "int8": (44_000, 29_000, 0.85),
        "full_int8": (43_000, 29_000, 1.0),
        "int16x8": (51_000, 34_000, 0.85),
        "qat_int8": (44_000, 29_000, 1.0),
        "pruned": (88_000, 51_000, 1.0),
        "clustered": (88_000, 40_000, 1.0),
        "pruned_clustered": (88_000, 34_000, 1.0),
        "pruned_qat_int8": (44_000, 24_000, 1.0),
        "clustered_qat_int8": (44_000, 25_000, 1.0),
        "pruned_clustered_qat_int8": (44_000, 22_000, 1.0),
    },
    drops=PRUNING_DROPS,
)

# The channel shuffle's 5-D RESHAPE/TRANSPOSE is beyond both accelerators: the Edge TPU
# maps the first three operators, the GPU delegate the last five. Its 9,000 weights lose
# a third to half of its accuracy when half of them are pruned: recorded, not shippable.
shufflenet = declare(
    "shufflenet",
    min_accuracy=0.9,
    limits={
        "float32": (44_000, 34_000, 0.16),
        "dynamic_int8": (34_000, 23_000, 0.16),
        "float16": (33_000, 20_000, 0.08),
        "int8": (40_000, 19_000, 0.09),
        "full_int8": (40_000, 19_000, 0.1),
        "int16x8": (49_000, 25_000, 0.93),
        "qat_int8": (43_000, 19_000, 0.1),
        "pruned": (44_000, 25_000, 0.16),
        "clustered": (44_000, 26_000, 0.16),
        "pruned_clustered": (44_000, 21_000, 0.16),
        "pruned_qat_int8": (43_000, 17_000, 0.1),
        "clustered_qat_int8": (43_000, 19_000, 0.1),
        "pruned_clustered_qat_int8": (43_000, 17_000, 0.1),
    },
    drops={"pruned": 0.43, "pruned_clustered": 0.29, "pruned_qat_int8": 0.29, "pruned_clustered_qat_int8": 0.27},
    floors={"pruned": 0.5, "pruned_clustered": 0.64, "pruned_qat_int8": 0.64, "pruned_clustered_qat_int8": 0.66},
)

efficientnet_lite = declare(
    "efficientnet_lite",
    min_accuracy=0.9,
    limits={
        "float32": (180_000, 159_000, 1.0),
        "dynamic_int8": (79_000, 61_000, 1.0),
        "float16": (103_000, 82_000, 1.0),
        "int8": (91_000, 59_000, 0.91),
        "full_int8": (90_000, 58_000, 1.0),
        "int16x8": (107_000, 70_000, 0.91),
        "qat_int8": (92_000, 59_000, 1.0),
        "pruned": (180_000, 104_000, 1.0),
        "clustered": (180_000, 87_000, 1.0),
        "pruned_clustered": (180_000, 74_000, 1.0),
        "pruned_qat_int8": (92_000, 48_000, 1.0),
        "clustered_qat_int8": (92_000, 51_000, 1.0),
        "pruned_clustered_qat_int8": (92_000, 44_000, 1.0),
    },
    drops=PRUNING_DROPS,
)

# Squeeze-and-excitation (MEAN, LOGISTIC, MUL) runs whole on the Edge TPU and the GPU.
# No quantization-aware modes: tensorflow-model-optimization has no QuantizeConfig for
# the Multiply layer that applies the excitation ("Layer ... is not supported").
efficientnet_lite_se = declare(
    "efficientnet_lite_se",
    min_accuracy=0.9,
    limits={
        "float32": (220_000, 189_000, 1.0),
        "dynamic_int8": (111_000, 82_000, 1.0),
        "float16": (134_000, 99_000, 1.0),
        "int8": (125_000, 74_000, 0.96),
        "full_int8": (125_000, 73_000, 1.0),
        "int16x8": (148_000, 89_000, 0.96),
        "pruned": (220_000, 125_000, 1.0),
        "clustered": (220_000, 99_000, 1.0),
        "pruned_clustered": (220_000, 84_000, 1.0),
    },
    drops=PRUNING_DROPS,
)

# UNIDIRECTIONAL_SEQUENCE_LSTM runs on the CPU only: LiteRT's GPU accelerator does not
# load the model at all (the fused LSTM keeps its state in variable tensors, which its
# CompiledModel refuses), so no operator is on the GPU; the Edge TPU has no kernel for its
# 16-bit cell state. No int16x8: the converter has no 16x8 kernel for it. No
# quantization-aware modes: tensorflow-model-optimization has no QuantizeConfig for LSTM
# layers.
lstm_rows = declare(
    "lstm_rows",
    min_accuracy=0.9,
    limits={
        "float32": (112_000, 102_000, 0.0),
        "dynamic_int8": (34_000, 30_000, 0.0),
        "float16": (60_000, 52_000, 0.0),
        "int8": (34_000, 28_000, 0.0),
        "full_int8": (33_000, 28_000, 0.0),
        "pruned": (112_000, 63_000, 0.0),
        "clustered": (112_000, 20_000, 0.0),
        "pruned_clustered": (112_000, 18_000, 0.0),
    },
)
