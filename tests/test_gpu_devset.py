"""The gpu target's static rules give LiteRT's GPU accelerator's placement on the development set.

Each member of ``tests/gpu_devset.py`` is checked twice, with the rules only and with the
accelerator on this machine's adapter, and every operator must be on the same side;
``benchmarks/bench_gpu_devset.py`` prints the same comparison as a score.
"""

from __future__ import annotations

import pytest
from gpu_devset import DevModel, convert, members

from pytest_tflite.targets.gpu import GPU

STATIC = GPU.with_options(confirm="never")
MEASURED = GPU.with_options(confirm="always", confirm_timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("member", list(members()), ids=lambda m: m.name)
def test_static_rules_place_every_operator_where_the_accelerator_does(member: DevModel, gpu_adapter, shared_converter):
    model = convert(member, shared_converter)
    static = STATIC.check(model)
    measured = MEASURED.check(model)
    assert not measured.static
    wrong = [
        f"{s.index}:{s.op} static={'gpu' if s.on_target else 'cpu'} ({s.reason})"
        for s, m in zip(static.ops, measured.ops)
        if s.on_target != m.on_target
    ]
    assert wrong == [], measured.render()
