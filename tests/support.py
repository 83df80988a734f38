"""Helpers the test modules share: import them with ``from support import ...``.

Fixtures live in ``conftest.py``; plain functions and constants live here, so a test module
never imports the conftest.
"""

from __future__ import annotations

import numpy as np
import pytest

TOY_BUILD = """
    def build():
        import tf_keras as keras

        keras.utils.set_random_seed(0)
        return keras.Sequential(
            [keras.Input((8,), name="x"), keras.layers.Dense(WIDTH, activation="relu", name="h"),
             keras.layers.Dense(4, name="out")],
            name="toy",
        )
"""
"""The source of a declared-model file's toy classifier, 8 -> WIDTH -> 4, named so its
converted bytes are the same in every process; the file sets WIDTH first."""


def dense_model(keras, name: str = "tiny_dense", input_shape=(8, 8), seed: int = 0):
    """A small trained-looking classifier: Flatten -> Dense(16, relu) -> Dense(4)."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(input_shape, name="x"),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(4),
        ],
        name=name,
    )


def collected_ids(result: pytest.RunResult) -> list[str]:
    """Test ids (without the file) listed by ``--collect-only -q``."""
    return [line.split("::", 1)[1] for line in result.outlines if line.startswith("test_")]


def keras_outputs(model, x):
    """A Keras model's float outputs for ``x`` (tf-keras or Keras 3), as a numpy array."""
    return np.asarray(model(np.asarray(x, dtype=np.float32), training=False))


def edited_model(content: bytes, edit) -> bytes:
    """The flatbuffer after ``edit(model)`` changed its object tree (LiteRT's schema, ``ModelT``)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    edit(model)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), b"TFL3")
    return bytes(builder.Output())


def operators_named(model, name: str):
    """The main subgraph's operators of one builtin kind, in a ``ModelT``."""
    from ai_edge_litert import schema_py_generated as schema

    code = getattr(schema.BuiltinOperator, name)
    codes = model.operatorCodes
    return [
        op
        for op in model.subgraphs[0].operators
        if max(codes[op.opcodeIndex].builtinCode, codes[op.opcodeIndex].deprecatedBuiltinCode) == code
    ]


def int4_int8_recipe() -> list[dict]:
    """An ai-edge-quantizer recipe for int8 activations on int4 weights, float input and
    output: ``static_wi8_ai8`` with 4-bit weights, for the ``recipe`` mode."""
    from ai_edge_quantizer import recipe

    rules = recipe.static_wi8_ai8()
    rules[0]["op_config"]["weight_tensor_config"]["num_bits"] = 4
    return rules + [{"regex": ".*", "operation": io, "algorithm_key": "no_quantize"} for io in ("INPUT", "OUTPUT")]
