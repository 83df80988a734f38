"""What the gate judges: the figures measured for one model and mode."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from .figures import figures_of

if TYPE_CHECKING:
    from ..evaluate import Evaluation
    from ..model.flatbuffer import TFLiteModel
    from ..targets.compatibility import CompatibilityReport


@dataclasses.dataclass(frozen=True)
class Measurement:
    """What was measured for one model and mode (and the targets it was placed on)."""

    size_bytes: int
    gzip_size_bytes: int
    metric: str | None = None
    value: float | None = None
    higher_is_better: bool = True
    float32_value: float | None = None
    fidelity: Mapping[str, float] | None = None
    on_target: Mapping[str, tuple[int, int]] = dataclasses.field(default_factory=dict)
    """Target -> (operators on the target, operators in all)."""
    target_figures: Mapping[str, Mapping[str, float | int]] = dataclasses.field(default_factory=dict)
    """Target -> the figures its tool measured (:data:`~.figures.TARGET_FIGURES`)."""
    kernels: str | None = None
    """Which LiteRT kernels computed the metric (``xnnpack`` or ``reference``)."""
    per_sample: tuple[float, ...] | None = None
    """The metric's score of each evaluation sample, when the metric has per-sample scores."""
    float32_per_sample: tuple[float, ...] | None = None
    """The float32 conversion's per-sample scores on the same samples."""
    labels_digest: str | None = None
    """The digest of the labels the per-sample scores follow (see ``Evaluation``)."""
    float32_labels_digest: str | None = None


def measure(
    model: TFLiteModel,
    evaluation: Evaluation | None = None,
    *,
    float32_value: float | None = None,
    float32_per_sample: tuple[float, ...] | None = None,
    float32_labels_digest: str | None = None,
    reports: Iterable[CompatibilityReport] = (),
) -> Measurement:
    """A Measurement from a TFLiteModel, its Evaluation and CompatibilityReports."""
    return Measurement(
        size_bytes=model.size_bytes,
        gzip_size_bytes=model.gzip_size_bytes,
        metric=evaluation.metric if evaluation else None,
        value=evaluation.value if evaluation else None,
        higher_is_better=evaluation.higher_is_better if evaluation else True,
        float32_value=float32_value,
        fidelity=evaluation.fidelity.to_dict() if evaluation and evaluation.fidelity else None,
        on_target={r.target: (r.ops_on_target, r.ops_total) for r in reports},
        target_figures={r.target: figures for r in reports if (figures := figures_of(r.details))},
        kernels=evaluation.kernels if evaluation else None,
        per_sample=evaluation.per_sample if evaluation else None,
        float32_per_sample=float32_per_sample,
        labels_digest=evaluation.labels_digest if evaluation else None,
        float32_labels_digest=float32_labels_digest,
    )
