"""The Ethos-U targets: Arm's microNPUs, with the verdict of Arm's Vela compiler.

:mod:`.vela` runs Vela and reads what it wrote; :mod:`.engine` turns that into the report.
"""

from __future__ import annotations

from .engine import ACCELERATORS, ETHOS_U55, ETHOS_U65, ETHOS_U85, Settings, analyze, figures
from .vela import VelaRun, run_vela, vela_available, vela_version

__all__ = [
    "ACCELERATORS",
    "ETHOS_U55",
    "ETHOS_U65",
    "ETHOS_U85",
    "Settings",
    "VelaRun",
    "analyze",
    "figures",
    "run_vela",
    "vela_available",
    "vela_version",
]
