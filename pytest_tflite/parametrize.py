"""Tests over modes and targets: a test that asks for ``tflite_mode`` or ``tflite_target``
runs once per selected mode and target, narrowed by its ``tflite`` marker.

A combination that can never hold (a float model on the Edge TPU) is skipped with the
modes that would fit; a bad selection fails the tests concerned, not the session.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import pytest

from .errors import TFLiteError
from .session import TFLiteSession, marker_selection

if TYPE_CHECKING:
    from _pytest.mark.structures import ParameterSet


PARAMETERS = {"tflite_mode": "modes", "tflite_target": "targets"}


class _Invalid:
    """A parameter standing for a selection error: the test fails with it at setup,
    and the rest of the session runs."""

    def __init__(self, error: TFLiteError) -> None:
        self.error = error

    def __repr__(self) -> str:
        return "invalid"


def parametrize(metafunc: pytest.Metafunc, session: TFLiteSession) -> None:
    """Parametrize a test that asks for ``tflite_mode`` or ``tflite_target`` over the
    selected modes and targets (unless the test parametrizes them itself)."""
    names = [
        name
        for name in PARAMETERS
        if name in metafunc.fixturenames and not _parametrized_by_user(metafunc, name)
    ]
    if not names:
        return
    try:
        params = _parameters(session, metafunc, names)
    except TFLiteError as exc:
        params = [pytest.param(*[_Invalid(exc)] * len(names), id="invalid")]
    metafunc.parametrize(names, params, indirect=True)


def _parameters(session: TFLiteSession, metafunc: pytest.Metafunc, names: list[str]) -> list[ParameterSet]:
    """One parameter set per (mode, target) the test runs under; a combination that can
    never hold (a float model on the Edge TPU) is skipped with the modes that would fit."""
    wanted = marker_selection(metafunc.definition.get_closest_marker("tflite"))
    choices = {
        "tflite_mode": lambda: session.modes_for(wanted["modes"]),
        "tflite_target": lambda: session.targets_for(wanted["targets"]),
    }
    axes = [choices[name]() for name in names]
    for name, values in zip(names, axes):
        if not values:
            return [_nothing_selected(session, name, wanted[PARAMETERS[name]], len(names))]
    params = []
    for combination in itertools.product(*axes):
        chosen = dict(zip(names, combination))
        unknown = _unknown_mode(chosen.get("tflite_mode"))
        if unknown is not None:
            shown: list[object] = [unknown if name == "tflite_mode" else value for name, value in chosen.items()]
            params.append(pytest.param(*shown, id="-".join(combination)))
            continue
        reason = _never_holds(chosen.get("tflite_mode"), chosen.get("tflite_target"))
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        params.append(pytest.param(*combination, id="-".join(combination), marks=marks))
    return params


def _unknown_mode(mode: str | None) -> _Invalid | None:
    """The parameter of a mode no registry knows: its tests fail with the mode's error."""
    if mode is None:
        return None
    from .conversion.modes import get_mode

    try:
        get_mode(mode)
    except TFLiteError as exc:
        return _Invalid(exc)
    return None


def _never_holds(mode: str | None, target: str | None) -> str | None:
    if mode is None or target is None:
        return None
    from .targets import get_target

    return get_target(target).skip_reason(mode)


def _nothing_selected(
    session: TFLiteSession, name: str, wanted: list[str] | None, count: int
) -> ParameterSet:
    kind = PARAMETERS[name]
    selected = session.selected_modes() if kind == "modes" else session.selected_targets()
    reason = (
        f"none of the marker's {kind} ({', '.join(wanted or [])}) is selected "
        f"(selected: {', '.join(selected)})"
    )
    return pytest.param(*[None] * count, id=f"no-{kind[:-1]}", marks=pytest.mark.skip(reason=reason))


def _parametrized_by_user(metafunc: pytest.Metafunc, argname: str) -> bool:
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if argname in names:
            return True
    return False


def param_of(request: pytest.FixtureRequest, argname: str) -> str:
    """The fixture's parameter; a selection error is raised here, failing this test only."""
    value = getattr(request, "param", None)
    if isinstance(value, _Invalid):
        raise value.error
    if value is None:
        raise TFLiteError(
            f"{argname} was requested without being parametrized",
            hint="Request it as a test argument (not via getfixturevalue) so the plugin can "
            "parametrize the test over the selected modes and targets",
        )
    return str(value)

