"""The modes ai-edge-quantizer applies: real tiny models quantized from their float32
conversion (or a .tflite file), run in the LiteRT interpreter and read back from the
flatbuffer; their options, their cache entries, and a declared model that uses one."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from support import TOY_BUILD

from pytest_tflite import ConversionError, Converter, ModeError, TFLiteModel, get_mode
from pytest_tflite.conversion import modes as modes_module
from pytest_tflite.targets.engine import blockwise_tensors

AEQ_MODES = ["int4_weights", "dynamic_int4", "dynamic_int4_blockwise", "int16_activations", "recipe"]
MAX_ERROR = {  # largest error against float32, as a share of the outputs' range
    "int4_weights": 0.12,
    "dynamic_int4": 0.12,
    "dynamic_int4_blockwise": 0.12,
    "int16_activations": 0.02,  # the int8 weights' rounding
    "recipe": 0.02,  # ai-edge-quantizer's dynamic_wi8_afp32
}
MAX_SIZE = {  # largest size, as a share of the float32 model's
    "int4_weights": 0.6,
    "dynamic_int4": 0.6,
    "dynamic_int4_blockwise": 0.6,
    "int16_activations": 0.8,
    "recipe": 0.7,
}


@pytest.fixture(scope="module")
def block_dense(tf_keras):
    """8x8 -> Flatten -> Dense(32, relu) -> Dense(4): both Dense layers' inputs (64, 32)
    divide into blocks of 32, which the tiny model's 16-wide second layer does not."""
    keras = tf_keras
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((8, 8), name="x"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(32, activation="relu", name="hidden"),
            keras.layers.Dense(4, name="logits"),
        ],
        name="block_dense",
    )


@pytest.fixture(scope="module")
def quantized(shared_converter, tiny_tf_keras, block_dense, calibration_data):
    """``quantized(mode)``: (float32 model, the model under ``mode``), both of the tiny model
    (of ``block_dense`` for the blockwise mode)."""

    def convert(mode):
        name = mode if isinstance(mode, str) else mode.name
        source = block_dense if name == "dynamic_int4_blockwise" else tiny_tf_keras
        float_model = shared_converter.convert(source, "float32")
        return float_model, shared_converter.convert(source, mode, representative_data=calibration_data)

    return convert


def weight_sources(model: TFLiteModel) -> list[tuple[str, str]]:
    """(dtype, how it is read) of each FULLY_CONNECTED's weights: ``direct``, or ``dequantize``
    when a DEQUANTIZE expands a constant into them."""
    producers = {t: op for op in model.operators for t in op.outputs}
    found = []
    for op in model.operators:
        if op.name != "FULLY_CONNECTED":
            continue
        producer = producers.get(op.inputs[1])
        if producer is not None and producer.name == "DEQUANTIZE":
            found.append((model.tensors[producer.inputs[0]].dtype, "dequantize"))
        else:
            found.append((model.tensors[op.inputs[1]].dtype, "direct"))
    return found


def runtime_dtypes(model: TFLiteModel) -> set[str]:
    return {t.dtype for t in model.tensors if not t.is_constant and t.index not in _io(model)}


def _io(model: TFLiteModel) -> set[int]:
    return {t.index for t in (*model.inputs, *model.outputs)}


def relative_error(model: TFLiteModel, reference: TFLiteModel, x: np.ndarray) -> float:
    expected = reference.predict(x)
    return float(np.abs(model.predict(x) - expected).max() / np.ptp(expected))


def dense_outputs(model: TFLiteModel) -> list[str]:
    """The output tensor names of the FULLY_CONNECTED operators: what keep_float patterns
    match (the last one's is the model's output, named after no layer)."""
    return [model.tensors[op.outputs[0]].name for op in model.operators if op.name == "FULLY_CONNECTED"]


def first_dense_output(model: TFLiteModel) -> str:
    return dense_outputs(model)[0]


# --- every mode on a real model ---------------------------------------------------------


@pytest.mark.parametrize("mode", AEQ_MODES)
def test_mode_runs_close_to_float32_and_smaller(quantized, test_inputs, mode):
    float_model, model = quantized(mode)
    assert (model.mode, model.name) == (mode, float_model.name)
    assert relative_error(model, float_model, test_inputs) <= MAX_ERROR[mode]
    assert model.size_bytes <= MAX_SIZE[mode] * float_model.size_bytes
    assert [t.dtype for t in (*model.inputs, *model.outputs)] == ["float32", "float32"]


def test_int4_weights_are_int4_constants_dequantized_to_float(quantized):
    _, model = quantized("int4_weights")
    assert weight_sources(model) == [("int4", "dequantize")] * 2
    assert runtime_dtypes(model) == {"float32"}


def test_dynamic_int4_weights_are_read_as_int4_by_the_dense_kernels(quantized):
    _, model = quantized("dynamic_int4")
    assert weight_sources(model) == [("int4", "direct")] * 2
    assert "DEQUANTIZE" not in model.op_histogram
    assert runtime_dtypes(model) == {"float32"}


def test_blockwise_weights_carry_block_scales(quantized):
    _, model = quantized("dynamic_int4_blockwise")
    assert weight_sources(model) == [("int4", "direct")] * 2
    fully_connected = [op for op in model.operators if op.name == "FULLY_CONNECTED"]
    assert {op.inputs[1] for op in fully_connected} == set(blockwise_tensors(model))
    scales = [t for t in model.tensors if t.name.endswith("_scales")]
    assert sorted((t.dtype, t.shape) for t in scales) == [("float16", (4, 1)), ("float16", (32, 2))]


def test_block_size_is_an_option(shared_converter, block_dense, quantized):
    float_model, model32 = quantized("dynamic_int4_blockwise")
    model64 = shared_converter.convert(block_dense, get_mode("dynamic_int4_blockwise").with_options(block_size=64))
    scales = [t for t in model64.tensors if t.name.endswith("_scales")]
    assert [t.shape for t in scales] == [(32, 1)]
    assert weight_sources(model64) == [("int4", "direct")] * 2  # 64 inputs in blocks, 32 per channel
    assert model64.content != model32.content


def test_int16_activations_compute_in_int16_behind_float_input_and_output(quantized):
    _, model = quantized("int16_activations")
    assert runtime_dtypes(model) == {"int16"}
    assert weight_sources(model) == [("int8", "direct")] * 2
    assert model.operators[0].name == "QUANTIZE" and model.operators[-1].name == "DEQUANTIZE"


def test_the_recipe_mode_applies_ai_edge_quantizers_default_until_given_one(quantized):
    _, model = quantized("recipe")
    assert weight_sources(model) == [("int8", "direct")] * 2
    assert runtime_dtypes(model) == {"float32"}


# --- the recipes are ai-edge-quantizer's own ------------------------------------------------


def test_the_modes_rules_are_ai_edge_quantizers_recipes():
    from ai_edge_quantizer import recipe

    assert get_mode("int4_weights").rules() == recipe.weight_only_wi4_afp32()
    assert get_mode("dynamic_int4").rules() == recipe.dynamic_wi4_afp32()
    assert get_mode("int16_activations").rules()[:1] == recipe.static_wi8_ai16()
    assert get_mode("recipe").rules() == recipe.dynamic_wi8_afp32()
    per_channel = recipe.dynamic_wi4c_afp32(regex="^", operation_name="FULLY_CONNECTED")
    blockwise = recipe.dynamic_wi4b32_afp32(operation_name="FULLY_CONNECTED")
    assert get_mode("dynamic_int4_blockwise").rules()[0::2] == per_channel + blockwise


def test_the_algorithms_are_ai_edge_quantizers():
    from ai_edge_quantizer.quantizer import AlgorithmName

    assert set(modes_module.ALGORITHMS) <= {a.value for a in AlgorithmName}


@pytest.mark.parametrize("mode", AEQ_MODES)
def test_needing_calibration_agrees_with_ai_edge_quantizer(tiny_tflite, mode):
    from ai_edge_quantizer import quantizer

    engine = quantizer.Quantizer(bytearray(tiny_tflite("float32").content), get_mode(mode).rules())
    assert get_mode(mode).needs_representative_data == engine.need_calibration


def test_gptq_needs_calibration_and_quantizes_dense_layers(shared_converter, tiny_tf_keras, calibration_data):
    gptq = get_mode("dynamic_int4").with_options(algorithm="GPTQ")
    assert gptq.needs_representative_data and not get_mode("dynamic_int4").needs_representative_data
    model = shared_converter.convert(tiny_tf_keras, gptq, representative_data=calibration_data)
    assert weight_sources(model) == [("int4", "direct")] * 2
    assert model.content != shared_converter.convert(tiny_tf_keras, "dynamic_int4").content


@pytest.mark.parametrize(
    ("mode", "activations", "weights", "hybrid"),
    [
        ("int4_weights", "float32", "int4", True),
        ("dynamic_int4", "float32", "int4", True),
        ("dynamic_int4_blockwise", "float32", "int4", True),
        ("int16_activations", "int16", None, False),
        ("recipe", "float32", "int8", True),
    ],
)
def test_what_each_mode_computes_in(mode, activations, weights, hybrid):
    chosen = get_mode(mode)
    assert (chosen.activations, chosen.weights, chosen.hybrid) == (activations, weights, hybrid)


def test_a_recipe_of_ones_own_says_what_it_computes_in_and_whether_it_calibrates():
    from ai_edge_quantizer import recipe

    static = get_mode("recipe").with_options(recipe=recipe.static_wi8_ai8())
    assert (static.activations, static.weights, static.needs_representative_data) == ("int8", None, True)
    assert get_mode("recipe").with_options(recipe="static_wi8_ai16").activations == "int16"
    weight_only = get_mode("recipe").with_options(recipe="weight_only_wi8_afp32")
    assert (weight_only.activations, weight_only.weights, weight_only.needs_representative_data) == (
        "float32", "int8", False)


# --- per-layer rules and recipes of one's own -----------------------------------------------


def test_keep_float_keeps_the_operators_it_names_float(shared_converter, tiny_tf_keras, tiny_tflite):
    first = first_dense_output(tiny_tflite("float32"))
    mode = get_mode("int4_weights").with_options(keep_float=[re.escape(first)])
    model = shared_converter.convert(tiny_tf_keras, mode)
    assert weight_sources(model) == [("float32", "direct"), ("int4", "dequantize")]
    assert model.op_histogram["DEQUANTIZE"] == 1


def test_keep_float_in_an_integer_model_computes_that_layer_in_float(
    shared_converter, tiny_tf_keras, tiny_tflite, calibration_data, test_inputs
):
    first = first_dense_output(tiny_tflite("float32"))
    mode = get_mode("int16_activations").with_options(keep_float=[re.escape(first)])
    model = shared_converter.convert(tiny_tf_keras, mode, representative_data=calibration_data)
    kept = next(op for op in model.operators if op.name == "FULLY_CONNECTED")
    assert model.tensors[kept.outputs[0]].dtype == "float32"
    assert weight_sources(model) == [("float32", "direct"), ("int8", "direct")]
    assert relative_error(model, tiny_tflite("float32"), test_inputs) <= MAX_ERROR["int16_activations"]


def test_keep_float_wins_over_a_recipes_earlier_rule_of_the_same_pattern(shared_converter, tiny_tf_keras, tiny_tflite):
    first = re.escape(first_dense_output(tiny_tflite("float32")))
    rules = [
        {"regex": first, "operation": "*", "algorithm_key": "min_max_uniform_quantize", "op_config": {
            "weight_tensor_config": {"num_bits": 8, "symmetric": True, "granularity": "CHANNELWISE", "dtype": "INT"},
            "compute_precision": "INTEGER", "explicit_dequantize": False}},
        *get_mode("dynamic_int4").rules(),
    ]
    mixed = shared_converter.convert(tiny_tf_keras, get_mode("recipe").with_options(recipe=rules))
    assert weight_sources(mixed) == [("int4", "direct")] * 2, "the later rule for every layer wins"
    kept = shared_converter.convert(tiny_tf_keras, get_mode("recipe").with_options(recipe=rules, keep_float=[first]))
    assert weight_sources(kept) == [("float32", "direct"), ("int4", "direct")]


def test_a_recipe_json_file_is_read(shared_converter, tiny_tf_keras, tmp_path):
    from ai_edge_quantizer import recipe

    path = tmp_path / "int4.json"
    path.write_text(json.dumps(recipe.dynamic_wi4_afp32()))
    for given in (path, str(path)):
        model = shared_converter.convert(tiny_tf_keras, get_mode("recipe").with_options(recipe=given))
        assert model.content == shared_converter.convert(tiny_tf_keras, "dynamic_int4").content


def test_a_named_recipe_is_ai_edge_quantizers(shared_converter, tiny_tf_keras):
    named = get_mode("recipe").with_options(recipe="weight_only_wi4_afp32")
    assert shared_converter.convert(tiny_tf_keras, named).content == (
        shared_converter.convert(tiny_tf_keras, "int4_weights").content
    )


def test_an_edited_recipe_file_quantizes_again(tmp_path, tiny_tflite_file):
    from ai_edge_quantizer import recipe

    path = tmp_path / "mine.json"
    path.write_text(json.dumps(recipe.dynamic_wi4_afp32()))
    mode = get_mode("recipe").with_options(recipe=path)
    converter = Converter(tmp_path / "cache")
    first = converter.convert(tiny_tflite_file, mode)
    path.write_text(json.dumps(recipe.dynamic_wi8_afp32()))
    second = converter.convert(tiny_tflite_file, mode)
    assert converter.stats["converted"] == 2
    assert weight_sources(first) == [("int4", "direct")] * 2 and weight_sources(second) == [("int8", "direct")] * 2


# --- .tflite sources, the cache, a quiet terminal -----------------------------------------------


def test_a_tflite_source_is_quantized_from_its_own_bytes(
    shared_converter, tiny_tflite_file, quantized, calibration_data
):
    _, from_keras = quantized("int16_activations")
    for source in (tiny_tflite_file, tiny_tflite_file.read_bytes()):
        model = shared_converter.convert(source, "int16_activations", representative_data=calibration_data)
        assert model.content == from_keras.content
        assert model.mode == "int16_activations"
    assert shared_converter.convert(tiny_tflite_file, "dynamic_int8").content == tiny_tflite_file.read_bytes()


def test_quantizing_a_tflite_file_imports_no_tensorflow(tiny_tflite_file, calibration_data, tmp_path):
    np.save(tmp_path / "data.npy", calibration_data)
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from pytest_tflite import Converter

        data = np.load({str(tmp_path / "data.npy")!r})
        converter = Converter()
        for mode in ("int4_weights", "int16_activations"):
            model = converter.convert({str(tiny_tflite_file)!r}, mode, representative_data=data)
            assert model.predict(data[:4]).shape == (4, 4)
        print("tensorflow" in sys.modules, "ai_edge_quantizer" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]


def test_loading_the_plugin_imports_no_ai_edge_quantizer():
    code = "import sys, pytest_tflite.plugin, pytest_tflite.conversion.modes; print('ai_edge_quantizer' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_the_quantized_model_is_cached_for_the_next_converter(tmp_path, tiny_tf_keras, calibration_data):
    first = Converter(tmp_path)
    a = first.convert(tiny_tf_keras, "int16_activations", representative_data=calibration_data)
    assert dict(first.stats) == {"converted": 2}  # float32, then ai-edge-quantizer
    second = Converter(tmp_path)
    b = second.convert(tiny_tf_keras, "int16_activations", representative_data=calibration_data)
    assert dict(second.stats) == {"disk": 2}
    assert b.content == a.content and (b.name, b.mode) == (a.name, a.mode)
    assert second.convert(tiny_tf_keras, "int16_activations", representative_data=calibration_data) is b
    assert len(sorted(tmp_path.rglob("*.tflite"))) == 2


def test_a_warm_cache_answers_a_model_file_under_int16_activations_without_tensorflow(
    tmp_path, tiny_tf_keras, calibration_data
):
    path = tmp_path / "tiny.keras"
    tiny_tf_keras.save(path)
    np.save(tmp_path / "data.npy", calibration_data)
    cold = Converter(tmp_path / "cache").convert(path, "int16_activations", representative_data=calibration_data)
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from pytest_tflite import Converter

        converter = Converter({str(tmp_path / "cache")!r})
        data = np.load({str(tmp_path / "data.npy")!r})
        model = converter.convert({str(path)!r}, "int16_activations", representative_data=data)
        print(model.digest, dict(converter.stats), "tensorflow" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{cold.digest} {{'disk': 2}} False"


def test_what_shapes_the_bytes_keys_the_cache(tmp_path, tiny_tflite_file, calibration_data):
    converter = Converter(tmp_path)
    base = converter.convert(tiny_tflite_file, "int16_activations", representative_data=calibration_data)
    converter.convert(tiny_tflite_file, "int16_activations", representative_data=calibration_data[:8])
    converter.convert(tiny_tflite_file, get_mode("int16_activations").with_options(algorithm="OCTAV"),
                      representative_data=calibration_data)
    converter.convert(tiny_tflite_file, "int4_weights")
    assert converter.stats["converted"] == 4
    assert converter.convert(tiny_tflite_file, "int16_activations", representative_data=calibration_data) is base


def test_quantizing_writes_nothing_to_the_terminal(tiny_tflite_file, calibration_data, capfd):
    Converter().convert(tiny_tflite_file, "int16_activations", representative_data=calibration_data)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


# --- what is refused, and how ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "options", "words", "hint"),
    [
        ("dynamic_int4_blockwise", {"block_size": 48}, "block_size must be one of 32, 64, 128, 256", "divides"),
        ("dynamic_int4_blockwise", {"block_size": True}, "block_size must be one of", "divides"),
        ("dynamic_int4_blockwise", {"algorithm": "MSE"}, "algorithm 'MSE' is not one", "OCTAV"),
        ("int4_weights", {"algorithm": "hadamard"}, "algorithm 'hadamard' is not one", "min_max_uniform_quantize"),
        ("int16_activations", {"algorithm": "float_casting"}, "algorithm 'float_casting'", "GPTQ"),
        ("dynamic_int4", {"keep_float": ["dense[1"]}, "is not a regular expression", "re.escape"),
        ("dynamic_int4", {"keep_float": [3]}, "keep_float must be a list of regular expressions", "keep_float=["),
        ("recipe", {"recipe": "no_such_recipe"}, "no recipe called 'no_such_recipe'", "dynamic_wi4b32_afp32"),
        ("recipe", {"recipe": "missing.json"}, "cannot read the recipe file missing.json", "Check the path"),
        ("recipe", {"recipe": [{"operation": "*"}]}, "not a list of ai-edge-quantizer rules", "'regex'"),
        ("recipe", {"recipe": 7}, "not a list of ai-edge-quantizer rules", "JSON file"),
        ("int4_weights", {"block_size": 32}, "unknown option(s) block_size", "algorithm, keep_float"),
    ],
)
def test_bad_options_are_mode_errors_with_a_hint(mode, options, words, hint):
    with pytest.raises(ModeError) as excinfo:
        get_mode(mode).with_options(**options)
    error = excinfo.value
    assert words in error.problem and hint in (error.hint or "") and error.mode == mode


def test_a_recipe_file_that_is_not_json_is_a_mode_error(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("[{")
    with pytest.raises(ModeError, match="is not JSON"):
        get_mode("recipe").with_options(recipe=path)


def test_a_layer_the_block_size_does_not_divide_has_a_scale_per_channel_and_is_named(
    tiny_tf_keras, tiny_tflite, caplog
):
    last = dense_outputs(tiny_tflite("float32"))[-1]
    with caplog.at_level("INFO", logger="pytest_tflite.progress"):
        model = Converter().convert(tiny_tf_keras, "dynamic_int4_blockwise")
    assert weight_sources(model) == [("int4", "direct")] * 2  # 64 inputs, then 16
    weights = [op.inputs[1] for op in model.operators if op.name == "FULLY_CONNECTED"]
    assert blockwise_tensors(model) == {weights[0]}
    assert [t.shape for t in model.tensors if t.name.endswith("_scales")] == [(16, 2)]
    assert f"not in blocks, which do not divide their inputs (the next rule applies): {last}" in caplog.text


def test_a_layer_its_blocks_do_not_fit_takes_the_recipes_next_rule(shared_converter, tiny_tf_keras):
    int8 = {"num_bits": 8, "symmetric": True, "granularity": "CHANNELWISE", "dtype": "INT"}
    blocks = {"num_bits": 4, "symmetric": True, "granularity": "BLOCKWISE_64", "dtype": "INT"}
    rules = [
        {"regex": ".*", "operation": "*", "algorithm_key": "min_max_uniform_quantize",
         "op_config": {"weight_tensor_config": int8, "compute_precision": "INTEGER"}},
        {"regex": ".*", "operation": "FULLY_CONNECTED", "algorithm_key": "min_max_uniform_quantize",
         "op_config": {"weight_tensor_config": blocks, "compute_precision": "INTEGER"}},
    ]
    model = shared_converter.convert(tiny_tf_keras, get_mode("recipe").with_options(recipe=rules))
    assert weight_sources(model) == [("int4", "direct"), ("int8", "direct")]  # 64 inputs, then 16
    assert len([t for t in model.tensors if t.name.endswith("_scales")]) == 1


def test_a_recipe_the_layers_do_not_fit_is_a_conversion_error_with_ai_edge_quantizers_words(
    shared_converter, tiny_tf_keras
):
    rules = [{"regex": ".*", "operation": "CONV_2D", "algorithm_key": "min_max_uniform_quantize", "op_config": {
        "weight_tensor_config": {"num_bits": 4, "symmetric": True, "granularity": "BLOCKWISE_32", "dtype": "INT"},
        "compute_precision": "INTEGER", "explicit_dequantize": False}}]
    with pytest.raises(ConversionError) as excinfo:
        shared_converter.convert(tiny_tf_keras, get_mode("recipe").with_options(recipe=rules))
    error = excinfo.value
    assert error.problem == "ai-edge-quantizer could not quantize the model" and error.mode == "recipe"
    assert "Unsupported op for INTEGER: CONV_2D" in error.detail
    assert "name the operator '*'" in error.hint


def test_int16_activations_without_data_ask_for_it(tiny_tflite_file):
    with pytest.raises(ModeError, match="needs a representative dataset") as excinfo:
        Converter().convert(tiny_tflite_file, "int16_activations")
    assert "representative_data=" in excinfo.value.hint


def test_data_that_does_not_fit_the_tflite_models_inputs_is_a_dataset_error(tiny_tflite_file):
    from pytest_tflite import DatasetError

    with pytest.raises(DatasetError, match=r"input 'x' expects \(batch, 8, 8\)"):
        Converter().convert(tiny_tflite_file, "int16_activations", representative_data=np.zeros((4, 3)))


@pytest.mark.parametrize("mode", ["int4_weights", "int16_activations"])
def test_an_already_quantized_tflite_is_refused_in_words(tiny_full_int8_file, calibration_data, mode):
    with pytest.raises(ModeError, match="is already quantized") as excinfo:
        Converter().convert(tiny_full_int8_file, mode, representative_data=calibration_data)
    assert "float32 .tflite" in excinfo.value.hint and excinfo.value.source == "tiny_int8"


def test_an_ai_edge_quantizer_mode_cannot_follow_a_fine_tune():
    with pytest.raises(ModeError, match="then='int4_weights' is not a post-training mode") as excinfo:
        get_mode("pruned").with_options(then="int4_weights")
    assert "int16x8" in excinfo.value.hint and "int4_weights" not in excinfo.value.hint


# --- in a pytest session ---------------------------------------------------------------------

DECLARED = """
    import numpy as np
    from pytest_tflite import Budget, DeclaredModel

    X = np.random.default_rng(0).random((64, 8), dtype=np.float32)
    WIDTH = 32

{build}

    def evaluation():
        return X, build().predict(X, verbose=0).argmax(axis=1)


    toy = DeclaredModel(
        "toy",
        source=build,
        representative_data=X,
        evaluation_data=evaluation,
        modes=["float32", "int4_weights"],
        budget=Budget(min_accuracy=0.5),
    )
"""


@pytest.fixture
def aeq_loaded(runtime_loaded):
    """ai-edge-quantizer imported before an in-process pytester run (see ``runtime_loaded``)."""
    import ai_edge_quantizer.quantizer  # noqa: F401


def test_a_declared_model_runs_its_checks_under_an_ai_edge_quantizer_mode(aeq_loaded, pytester):
    pytester.makeini("[pytest]\ntflite_targets = cpu\naddopts = --benchmark-skip\n")
    pytester.makepyfile(tflite_models=DECLARED.format(build=TOY_BUILD))
    result = pytester.runpytest("-p", "no:cacheprovider", "--tflite-update-golden")
    result.assert_outcomes(passed=8, skipped=2)
    golden = pytester.path / "golden" / "toy"
    int4, float32 = (json.loads((golden / f"{m}.json").read_text()) for m in ("int4_weights", "float32"))
    assert int4["op_histogram"]["DEQUANTIZE"] == 2 and "DEQUANTIZE" not in float32["op_histogram"]
    assert int4["size_bytes"] < 0.8 * float32["size_bytes"]
    assert int4["metric"]["value"] >= 0.5 and int4["targets"]["cpu"]["verdict"] == "compatible"
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=8, skipped=2)
