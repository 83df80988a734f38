"""The ``edgetpu`` target against the real Edge TPU compiler, operator by operator.

Each pair in ``tests/data/edgetpu_pairs`` records which operators the real compiler left on
the CPU. The placement tests assert exactly that; the builder tests show that a weightless
copy built from a digest is, to the parser and to LiteRT, the model it was taken from.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest
from edgetpu_pairs import build_from_digest, digest, model_bytes, pairs, real_bytes, truth

from pytest_tflite import TFLiteModel, get_target

WITH_REAL_FILE = [name for name in pairs() if truth(name)["model_file_here"]]


def test_the_pairs_are_all_here():
    assert len(pairs()) == 25
    assert len(WITH_REAL_FILE) == 7
    assert all((real_bytes(name) is not None) == truth(name)["model_file_here"] for name in pairs())


@pytest.mark.parametrize("name", WITH_REAL_FILE)
def test_real_file_is_the_published_one(name):
    content = real_bytes(name)
    assert content is not None
    assert hashlib.sha256(content).hexdigest() == truth(name)["plain_sha256"]


@pytest.mark.parametrize("name", pairs())
def test_edgetpu_placement_matches_the_compiler(name):
    expected = truth(name)
    report = get_target("edgetpu").check(TFLiteModel(model_bytes(name), name=name))
    cpu = [op.index for op in report.ops if not op.on_target]
    assert report.ops_total == expected["total_ops"]
    assert cpu == sorted(expected["cpu_op_indices"]), _misplaced(report, expected)
    assert report.ops_on_target == expected["mapped"]


def _misplaced(report: Any, expected: dict[str, Any]) -> str:
    """The operators on the wrong side, with the engine's reason: what a failure should show."""
    real_cpu = set(expected["cpu_op_indices"])
    wrong = [op for op in report.ops if (not op.on_target) != (op.index in real_cpu)]
    lines = [f"{op.index} {op.op}: predicted {op.runs_on} ({op.reason})" for op in wrong[:10]]
    return f"{len(wrong)} operator(s) placed unlike the compiler:\n" + "\n".join(lines)


@pytest.mark.parametrize("name", pairs())
def test_built_copy_has_the_pairs_operators(name):
    model = TFLiteModel(build_from_digest(digest(name)))
    assert len(model.operators) == truth(name)["total_ops"]


@pytest.mark.parametrize("name", WITH_REAL_FILE)
def test_built_copy_has_the_real_models_architecture(name):
    real = TFLiteModel(real_bytes(name))
    copy = TFLiteModel(build_from_digest(digest(name)))
    assert copy.subgraph_count == real.subgraph_count
    for graph in range(real.subgraph_count):
        ops, real_ops = copy.subgraph_operators(graph), real.subgraph_operators(graph)
        assert ops == real_ops
        assert [_options(op.options) for op in ops] == [_options(op.options) for op in real_ops]
    assert [_tensor(copy, t.index) for t in copy.tensors] == [_tensor(real, t.index) for t in real.tensors]
    assert [t.index for t in copy.inputs] == [t.index for t in real.inputs]
    assert [t.index for t in copy.outputs] == [t.index for t in real.outputs]


def _options(options: Any) -> dict[str, Any] | None:
    """An options object as plain data, so two parses of it compare equal."""
    if options is None:
        return None
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in vars(options).items()}


def _tensor(model: TFLiteModel, index: int) -> tuple[Any, ...]:
    """What placement reads of a tensor: not its weights, nor its scale values."""
    t = model.tensors[index]
    q = t.quantization
    layout = None if q is None else (len(q.scales), q.axis if q.per_channel else 0)
    value = model.constant_value(index)
    kept = value.tolist() if value is not None and q is None and t.dtype in ("int32", "int64") else None
    size = value.nbytes if value is not None else 0
    return (t.name, t.dtype, t.shape, t.shape_signature, layout, t.is_constant, size, kept if size <= 512 else None)


@pytest.mark.parametrize("name", WITH_REAL_FILE)
def test_built_copy_loads_in_litert_where_the_real_model_does(name):
    real = real_bytes(name)
    assert real is not None
    assert _loads(build_from_digest(digest(name))) == _loads(real)


def _loads(content: bytes) -> bool:
    """Whether LiteRT's interpreter takes the model and allocates its tensors."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        Interpreter(model_content=content).allocate_tensors()
    except (RuntimeError, ValueError):
        return False
    return True
