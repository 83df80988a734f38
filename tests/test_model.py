"""TFLiteModel: operators, tensors, sizes and summary read from real flatbuffers, and
damaged bytes always reported as ModelFormatError."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from pytest_tflite import ModelFormatError, Operator, Quantization, Tensor, TFLiteModel, convert


@pytest.fixture(scope="module")
def float32(tiny_tflite):
    return tiny_tflite("float32")


@pytest.fixture(scope="module")
def full_int8(tiny_tflite):
    return tiny_tflite("full_int8")


# --- operators ----------------------------------------------------------------------


def test_operators_in_execution_order(float32):
    ops = float32.operators
    assert all(isinstance(op, Operator) for op in ops)
    assert [op.name for op in ops] == ["RESHAPE", "FULLY_CONNECTED", "FULLY_CONNECTED"]
    assert [op.index for op in ops] == [0, 1, 2]
    assert all(op.version >= 1 and not op.is_custom and op.subgraph == 0 for op in ops)


def test_operators_connect_the_inputs_to_the_outputs(float32):
    ops, tensors = float32.operators, float32.tensors
    assert ops[0].inputs[0] == float32.inputs[0].index
    for before, after in zip(ops, ops[1:]):
        assert after.inputs[0] == before.outputs[0], "each operator feeds the next"
    assert ops[-1].outputs == (float32.outputs[0].index,)
    # the fully connected layers read the Dense kernels, stored (units, inputs)
    kernels = [tensors[op.inputs[1]] for op in ops[1:]]
    assert [k.shape for k in kernels] == [(16, 64), (4, 16)]
    assert all(k.is_constant and k.dtype == "float32" for k in kernels)
    # an omitted (optional) operand is -1, never an out-of-range index
    assert all(-1 <= i < len(tensors) for op in ops for i in op.inputs + op.outputs)


def test_quantized_operators_have_higher_versions(float32, full_int8):
    float_fc = [op.version for op in float32.operators if op.name == "FULLY_CONNECTED"]
    int8_fc = [op.version for op in full_int8.operators if op.name == "FULLY_CONNECTED"]
    assert int8_fc and all(i > f for i, f in zip(int8_fc, float_fc))


def test_operator_to_dict(float32):
    first = float32.operators[0].to_dict()
    assert first == {
        "index": 0,
        "name": "RESHAPE",
        "version": float32.operators[0].version,
        "inputs": list(float32.operators[0].inputs),
        "outputs": list(float32.operators[0].outputs),
        "custom": False,
    }


@pytest.mark.parametrize(
    ("mode", "histogram"),
    [
        ("float32", {"FULLY_CONNECTED": 2, "RESHAPE": 1}),
        ("full_int8", {"FULLY_CONNECTED": 2, "RESHAPE": 1}),
        ("int8", {"FULLY_CONNECTED": 2, "DEQUANTIZE": 1, "QUANTIZE": 1, "RESHAPE": 1}),
        ("float16", {"DEQUANTIZE": 2, "FULLY_CONNECTED": 2, "RESHAPE": 1}),
    ],
)
def test_op_histogram(tiny_tflite, mode, histogram):
    model = tiny_tflite(mode)
    assert model.op_histogram == histogram
    assert list(model.op_histogram) == list(histogram), "most frequent first, then by name"
    assert sum(model.op_histogram.values()) == len(model.operators)


def test_subgraphs_of_a_while_loop(tf):
    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def loop(x):
        def body(i, y):
            return i + 1, y * 1.5 + 1.0

        return tf.while_loop(lambda i, y: i < 3, body, [tf.constant(0), x])[1]

    model = convert(loop)
    assert model.subgraph_count == 3
    assert [op.name for op in model.operators] == ["WHILE"]
    assert model.subgraph_operators(0) == model.operators
    assert [op.subgraph for g in range(3) for op in model.subgraph_operators(g)][-1] == 2
    # the histogram counts every subgraph, the operator list only the main one
    assert model.op_histogram["WHILE"] == 1
    assert sum(model.op_histogram.values()) == sum(len(model.subgraph_operators(g)) for g in range(3))
    assert {"LESS", "MUL", "ADD"} <= set(model.op_histogram)
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_allclose(model.predict(x), loop(x).numpy(), rtol=1e-6)


# --- tensors ------------------------------------------------------------------------


def test_float_tensors(float32):
    [inp], [out] = float32.inputs, float32.outputs
    assert isinstance(inp, Tensor)
    assert (inp.dtype, inp.shape, inp.shape_signature) == ("float32", (1, 8, 8), (-1, 8, 8))
    assert (out.dtype, out.shape, out.shape_signature) == ("float32", (1, 4), (-1, 4))
    assert inp.is_dynamic and out.is_dynamic
    assert inp.quantization is None and out.quantization is None
    assert not inp.is_constant and not out.is_constant
    assert inp.name == "serving_default_x:0"
    assert float32.tensors[inp.index] is inp
    constants = [t for t in float32.tensors if t.is_constant]
    assert constants and not any(t.is_dynamic for t in constants)


def test_quantized_tensors(full_int8):
    [inp], [out] = full_int8.inputs, full_int8.outputs
    for tensor in (inp, out):
        assert tensor.dtype == "int8"
        q = tensor.quantization
        assert isinstance(q, Quantization) and not q.per_channel
        assert q.scales[0] > 0 and -128 <= q.zero_points[0] <= 127
    # input data in [0, 1): scale about 1/255 with the zero point at the bottom
    assert inp.quantization.scales[0] == pytest.approx(1 / 255, rel=0.05)
    assert inp.quantization.zero_points == (-128,)
    kernels = [t for t in full_int8.tensors if t.is_constant and t.dtype == "int8"]
    assert kernels
    for kernel in kernels:
        q = kernel.quantization
        assert q.per_channel and q.axis == 0
        assert len(q.scales) == kernel.shape[0], "one scale per output channel"
        assert all(s > 0 for s in q.scales) and set(q.zero_points) == {0}


def test_tensor_to_dict(full_int8):
    data = full_int8.inputs[0].to_dict()
    assert data["dtype"] == "int8"
    assert data["shape"] == [1, 8, 8] and data["shape_signature"] == [-1, 8, 8]
    assert data["quantization"]["scales"][0] > 0
    assert data["quantization"]["zero_points"] == [-128]


# --- sizes and summary ----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["float32", "full_int8"])
def test_sizes(tiny_tflite, mode):
    model = tiny_tflite(mode)
    assert model.size_bytes == len(model.content)
    assert 0 < model.gzip_size_bytes < model.size_bytes
    again = TFLiteModel(model.content)
    assert again.gzip_size_bytes == model.gzip_size_bytes, "deterministic"
    assert model.gzip_size_bytes == len(gzip.compress(model.content, compresslevel=9, mtime=0))


def test_quantized_model_is_smaller(float32, full_int8):
    assert full_int8.size_bytes < float32.size_bytes
    assert full_int8.gzip_size_bytes < float32.gzip_size_bytes


@pytest.mark.parametrize("mode", ["float32", "full_int8", "int16x8"])
def test_summary_is_json_ready(tiny_tflite, mode):
    model = tiny_tflite(mode)
    summary = model.summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["name"] == "tiny_dense" and summary["mode"] == mode
    assert summary["size_bytes"] == model.size_bytes
    assert summary["gzip_size_bytes"] == model.gzip_size_bytes
    assert summary["op_histogram"] == model.op_histogram
    assert summary["operators"] == len(model.operators)
    assert summary["subgraphs"] == 1
    assert [t["dtype"] for t in summary["inputs"]] == [t.dtype for t in model.inputs]
    assert [t["index"] for t in summary["outputs"]] == [t.index for t in model.outputs]


def test_save_and_from_file(tmp_path, full_int8):
    path = full_int8.save(tmp_path / "sub" / "tiny_int8.tflite")
    assert path.read_bytes() == full_int8.content
    loaded = TFLiteModel.from_file(path, mode="full_int8")
    assert (loaded.name, loaded.mode) == ("tiny_int8", "full_int8")
    assert loaded.content == full_int8.content
    assert loaded.op_histogram == full_int8.op_histogram
    assert loaded.inputs == full_int8.inputs
    assert TFLiteModel.from_file(str(path)).mode is None
    assert "tiny_int8" in repr(loaded) and str(full_int8.size_bytes) in repr(loaded)
    assert list(tmp_path.rglob("*.tmp")) == []


def test_bytes_like_content(float32):
    for form in (bytearray(float32.content), memoryview(float32.content)):
        model = TFLiteModel(form)
        assert model.content == float32.content and isinstance(model.content, bytes)


# --- damaged input ------------------------------------------------------------------


def _expect_format_error(content, name="damaged"):
    with pytest.raises(ModelFormatError) as excinfo:
        TFLiteModel(content, name=name)
    assert f"model {name!r}" in str(excinfo.value)
    return excinfo.value


def test_random_bytes():
    error = _expect_format_error(np.random.default_rng(0).bytes(4096))
    assert "no 'TFL3' flatbuffer identifier" in str(error)


@pytest.mark.parametrize("content", [b"", b"TFL3", b"\x00\x00\x00\x00TFL"], ids=["empty", "4", "7"])
def test_too_short(content):
    _expect_format_error(content)


@pytest.mark.parametrize("mode", ["float32", "full_int8"])
@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.99])
def test_truncated(tiny_tflite, mode, fraction):
    content = tiny_tflite(mode).content
    error = _expect_format_error(content[: int(len(content) * fraction)])
    assert "damaged or truncated" in str(error) or "no subgraph" in str(error) or "past the end" in str(
        error
    )


@pytest.mark.parametrize("mode", ["float32", "full_int8", "int16x8"])
def test_truncated_anywhere(tiny_tflite, mode):
    content = tiny_tflite(mode).content
    for cut in sorted({8, 9, 12, 16, 32, 64, *range(0, len(content), 37)}):
        _expect_format_error(content[:cut], name=f"cut_{cut}")


def test_identifier_with_garbage():
    rng = np.random.default_rng(1)
    _expect_format_error(b"\x00\x00\x00\x00TFL3")
    _expect_format_error(b"\x10\x00\x00\x00TFL3" + bytes(8))
    _expect_format_error(b"\xff\xff\xff\xffTFL3" * 20)
    for _ in range(20):
        _expect_format_error(rng.bytes(4) + b"TFL3" + rng.bytes(int(rng.integers(0, 600))))


@pytest.mark.parametrize("mode", ["float32", "full_int8"])
def test_flipped_bytes_never_escape_as_another_error(tiny_tflite, mode):
    """Damaged files either still parse or raise ModelFormatError; nothing else escapes."""
    content = tiny_tflite(mode).content
    rng = np.random.default_rng(2)
    failures = 0
    for _ in range(400):
        damaged = bytearray(content)
        for i in rng.integers(8, len(content), size=4):
            damaged[i] = int(rng.integers(0, 256))
        try:
            TFLiteModel(bytes(damaged), name="flipped")
        except ModelFormatError as error:
            assert str(error).startswith("model 'flipped': ")
            assert "b'" not in error.problem, "names are decoded"
            failures += 1
    assert failures > 0, "damage is detected"


def test_from_file_missing(tmp_path):
    with pytest.raises(ModelFormatError, match="cannot read") as excinfo:
        TFLiteModel.from_file(tmp_path / "missing.tflite")
    assert "model 'missing'" in str(excinfo.value)
    assert "missing.tflite" in str(excinfo.value)


def test_from_file_directory(tmp_path):
    (tmp_path / "folder.tflite").mkdir()
    with pytest.raises(ModelFormatError, match="cannot read"):
        TFLiteModel.from_file(tmp_path / "folder.tflite")


def test_from_file_corrupt(tmp_path, float32):
    path = tmp_path / "half.tflite"
    path.write_bytes(float32.content[: float32.size_bytes // 2])
    with pytest.raises(ModelFormatError, match="model 'half'"):
        TFLiteModel.from_file(path)


def test_constant_value_reads_the_weights(float32, tiny_tf_keras):
    kernels = [w for w in tiny_tf_keras.get_weights() if w.ndim == 2]
    fc_weights = [
        float32.constant_value(op.inputs[1]) for op in float32.operators if op.name == "FULLY_CONNECTED"
    ]
    # TFLite stores a dense kernel as (units, inputs): Keras's kernel transposed.
    assert [w.shape for w in fc_weights] == [k.T.shape for k in kernels]
    for stored, kernel in zip(fc_weights, kernels):
        np.testing.assert_array_equal(stored, kernel.T)


def test_constant_value_is_none_for_runtime_tensors(float32):
    assert float32.constant_value(float32.inputs[0].index) is None
    assert float32.constant_value(float32.outputs[0].index) is None


def test_digest_identifies_the_bytes(float32, full_int8):
    assert float32.digest == TFLiteModel(float32.content, name="other").digest
    assert float32.digest != full_int8.digest
    assert len(float32.digest) == 64
