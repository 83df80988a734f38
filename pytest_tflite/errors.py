"""Errors that tell a user what went wrong and what to do about it.

Every error names the model and the mode it concerns, says the problem in one
sentence, says what to do in another, and keeps the underlying tool's own message
underneath so nothing is hidden.
"""

from __future__ import annotations

from typing import Any

_DETAIL_LINES = 40


def _rebuilt(kind: type[TFLiteError], problem: str, fields: dict[str, Any]) -> TFLiteError:
    return kind(problem, **fields)


class TFLiteError(Exception):
    """Base class of every error pytest-tflite raises on purpose."""

    def __init__(
        self,
        problem: str,
        *,
        source: str | None = None,
        mode: str | None = None,
        hint: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.problem = problem
        self.source = source
        self.mode = mode
        self.hint = hint
        self.detail = detail
        super().__init__(self._render())

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled with its fields, so an error raised in a child process is raised again
        here as it was."""
        fields = {"source": self.source, "mode": self.mode, "hint": self.hint, "detail": self.detail}
        return (_rebuilt, (type(self), self.problem, fields))

    def _render(self) -> str:
        where = []
        if self.source:
            where.append(f"model {self.source!r}")
        if self.mode:
            where.append(f"mode {self.mode!r}")
        head = f"{', '.join(where)}: " if where else ""
        text = head + self.problem.rstrip(".") + "."
        if self.hint:
            text += " " + self.hint.rstrip(".") + "."
        if self.detail:
            lines = self.detail.strip().splitlines()
            if len(lines) > _DETAIL_LINES:
                lines = lines[:_DETAIL_LINES] + [f"... ({len(lines) - _DETAIL_LINES} more lines)"]
            text += "\n\n" + "\n".join("    " + line for line in lines)
        return text


class SourceError(TFLiteError):
    """The object given as a model source is not one pytest-tflite can convert."""


class ModeError(TFLiteError):
    """An unknown quantization mode, or a mode used without what it needs."""


class DatasetError(TFLiteError):
    """A representative or evaluation dataset that is empty or does not fit the model."""


class ConversionError(TFLiteError):
    """The TensorFlow Lite converter rejected the model."""


class ModelFormatError(TFLiteError):
    """Bytes that are not a readable TensorFlow Lite flatbuffer."""


class RuntimeFailure(TFLiteError):
    """The LiteRT interpreter could not load or run the model."""


class ModelCrash(RuntimeFailure):
    """LiteRT's native code died (a signal), hung or ran out of memory on the model, in the
    child process that loads it first."""


class TargetError(TFLiteError):
    """An unknown target, a target option it does not take, or a missing optional tool."""


class CompatibilityFailure(TFLiteError, AssertionError):
    """A model does not run on a target the way a test requires."""


class ModeUnavailable(ModeError):
    """A mode that does not apply to this model: its checks skip, saying why."""


class TrainingUnavailable(ModeUnavailable):
    """A training-time mode cannot run here: no training data, or a model it cannot fine-tune."""


class GoldenError(TFLiteError):
    """A golden baseline file that cannot be read, or cannot be written safely."""


class BudgetError(TFLiteError):
    """A budget setting that does not parse: an unknown key, scope or value."""


class EvaluationError(TFLiteError):
    """A model cannot be evaluated: labels that do not fit its outputs, or non-finite outputs."""
