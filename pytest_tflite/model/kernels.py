"""Which LiteRT kernels a run computes with: chosen once per process by the run's settings."""

from __future__ import annotations

from ..errors import RuntimeFailure

KERNELS = ("xnnpack", "reference")
"""LiteRT's kernels: ``xnnpack``, its default (XNNPACK's optimised kernels where they
apply), or ``reference``, the plain builtin kernels, which compute as microcontrollers
(TFLite Micro) and NPUs do, to the last bit."""
_chosen = [KERNELS[0]]


def use_kernels(kernels: str) -> None:
    """Make ``kernels`` the ones every runner of this process uses unless told otherwise."""
    if kernels not in KERNELS:
        raise RuntimeFailure(
            f"unknown kernels {kernels!r}", hint=f"Choose one of: {', '.join(KERNELS)}"
        )
    _chosen[0] = kernels


def current_kernels() -> str:
    """The kernels runners of this process use (``xnnpack`` unless the run chose others)."""
    return _chosen[0]
