"""The quantization mode registry: built-in modes, lookup, registration and options."""

from __future__ import annotations

import pytest

from pytest_tflite import Mode, ModeError, get_mode, mode_names, register_mode
from pytest_tflite.conversion import modes as modes_module

BUILTIN = ["float32", "dynamic_int8", "float16", "int8", "full_int8", "int16x8"]
NEEDS_DATA = {"int8", "full_int8", "int16x8"}
QUANTIZER = ["int4_weights", "dynamic_int4", "dynamic_int4_blockwise", "int16_activations", "recipe"]


def _noop(converter, tf, options):
    """A configure function that leaves the converter alone."""


@pytest.fixture
def registry():
    """The mode registry, restored to its previous content after the test."""
    saved = dict(modes_module._REGISTRY)
    yield modes_module._REGISTRY
    modes_module._REGISTRY.clear()
    modes_module._REGISTRY.update(saved)


def test_builtin_modes_are_registered_in_order():
    # Other tests may register more modes in this process; the built-ins come first.
    assert mode_names()[: len(BUILTIN)] == BUILTIN
    assert [m.name for m in modes_module.iter_modes()][: len(BUILTIN)] == BUILTIN


@pytest.mark.parametrize("name", BUILTIN)
def test_get_mode_returns_the_registered_mode(name):
    mode = get_mode(name)
    assert isinstance(mode, Mode)
    assert mode.name == name == str(mode)
    assert mode.description
    assert mode.needs_representative_data == (name in NEEDS_DATA)
    assert get_mode(mode) is mode


def test_builtin_options():
    assert dict(get_mode("full_int8").options) == {"io_dtype": "int8"}
    assert dict(get_mode("int16x8").options) == {"allow_float_fallback": False}
    assert dict(get_mode("float32").options) == {}


@pytest.mark.parametrize("unknown", ["int4", "FLOAT32", "", "float 32"])
def test_unknown_mode_lists_the_known_modes(unknown):
    with pytest.raises(ModeError, match="no quantization mode called") as excinfo:
        get_mode(unknown)
    message = str(excinfo.value)
    assert repr(unknown) in message
    assert "Known modes: " + ", ".join(mode_names()) in message
    for name in BUILTIN:
        assert name in message


def test_unhashable_mode_name_is_a_mode_error():
    with pytest.raises(ModeError, match="Known modes"):
        get_mode(["int8"])


def test_register_a_new_mode(registry):
    mode = Mode("test_custom", "a mode registered by a test", _noop)
    assert register_mode(mode) is mode
    assert get_mode("test_custom") is mode
    assert mode_names()[-1] == "test_custom"
    assert mode_names()[: len(BUILTIN)] == BUILTIN


def test_register_refuses_a_duplicate(registry):
    original = get_mode("float16")
    impostor = Mode("float16", "not the real float16", _noop)
    with pytest.raises(ModeError, match="already registered") as excinfo:
        register_mode(impostor)
    assert "replace=True" in str(excinfo.value)
    assert "'float16'" in str(excinfo.value)
    assert get_mode("float16") is original


def test_register_refuses_a_duplicate_custom_mode(registry):
    register_mode(Mode("test_twice", "first", _noop))
    with pytest.raises(ModeError, match="already registered"):
        register_mode(Mode("test_twice", "second", _noop))
    assert get_mode("test_twice").description == "first"


def test_register_replaces_on_purpose(registry):
    replacement = Mode("float16", "a redefined float16", _noop)
    assert register_mode(replacement, replace=True) is replacement
    assert get_mode("float16") is replacement
    # replacing keeps the mode's place in the order
    assert mode_names()[: len(BUILTIN)] == BUILTIN


def test_registry_fixture_restored_the_builtins():
    # Runs after the registration tests above (file order): nothing of theirs is left.
    assert "test_custom" not in mode_names()
    assert "test_twice" not in mode_names()
    assert get_mode("float16").description == "float16 weights, float computation"


def test_with_options_returns_a_changed_copy():
    full = get_mode("full_int8")
    uint8 = full.with_options(io_dtype="uint8")
    assert uint8.options["io_dtype"] == "uint8"
    assert full.options["io_dtype"] == "int8"
    assert uint8.name == full.name
    assert uint8.needs_representative_data
    assert uint8.configure is full.configure
    assert uint8 != full


def test_options_are_read_only():
    with pytest.raises(TypeError):
        get_mode("full_int8").options["io_dtype"] = "uint8"  # type: ignore[index]


@pytest.mark.parametrize(
    ("mode", "options", "known"),
    [
        ("full_int8", {"io_type": "uint8"}, "io_dtype"),
        ("int16x8", {"fallback": True}, "allow_float_fallback"),
        ("float32", {"io_dtype": "int8"}, "none"),
        ("full_int8", {"io_dtype": "uint8", "bits": 4, "agressive": True}, "io_dtype"),
    ],
)
def test_with_options_rejects_unknown_options(mode, options, known):
    with pytest.raises(ModeError, match="unknown option") as excinfo:
        get_mode(mode).with_options(**options)
    message = str(excinfo.value)
    assert f"mode {mode!r}" in message
    assert f"takes these options: {known}" in message
    unknown = sorted(set(options) - set(get_mode(mode).options))
    assert ", ".join(unknown) in message


def test_cache_key_follows_the_options():
    full = get_mode("full_int8")
    assert full.cache_key() == get_mode("full_int8").cache_key()
    assert full.cache_key() == full.with_options(io_dtype="int8").cache_key()
    assert full.cache_key() != full.with_options(io_dtype="uint8").cache_key()
    fallback = get_mode("int16x8").with_options(allow_float_fallback=True)
    assert fallback.cache_key() != get_mode("int16x8").cache_key()


def test_cache_key_differs_between_modes():
    keys = [repr(get_mode(name).cache_key()) for name in BUILTIN]
    assert len(set(keys)) == len(BUILTIN)


def test_cache_key_is_json_ready():
    import json

    key = get_mode("full_int8").with_options(io_dtype="uint8").cache_key()
    assert json.loads(json.dumps(key)) == key
    assert key["name"] == "full_int8"


def test_cache_key_follows_the_configure_code():
    def weights_only(converter, tf, options):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]

    def weights_float16(converter, tf, options):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]

    first = Mode("custom", "a custom mode", weights_only)
    assert first.cache_key() == Mode("custom", "a custom mode", weights_only).cache_key()
    assert first.cache_key() != Mode("custom", "a custom mode", weights_float16).cache_key()


# --- the modes ai-edge-quantizer applies ------------------------------------------------------


def test_quantizer_modes_are_registered_after_the_training_modes():
    names = mode_names()
    start = names.index("pruned_clustered_qat_int8") + 1
    assert names[start : start + len(QUANTIZER)] == QUANTIZER
    for name in QUANTIZER:
        mode = get_mode(name)
        assert mode.recipe is not None and mode.rules() and mode.description
        assert "keep_float" in mode.options and mode.fine_tune is None
    assert all(get_mode(name).recipe is None and get_mode(name).rules() == [] for name in BUILTIN)


def test_a_quantizer_mode_is_data_plus_a_recipe_function(registry):
    def all_float(options):
        return [{"regex": ".*", "operation": "*", "algorithm_key": "no_quantize"}]

    mode = register_mode(Mode("test_float_recipe", "a recipe of no quantization", _noop, recipe=all_float))
    assert mode.rules() == all_float({})
    assert (mode.activations, mode.weights, mode.needs_representative_data) == ("float32", None, False)


def test_keep_float_rules_come_last_each_in_a_group_of_its_own():
    rules = get_mode("int16_activations").with_options(keep_float=["dense", "conv_1"]).rules()
    assert [r["operation"] for r in rules] == ["*", "INPUT", "OUTPUT", "*", "*"]
    assert [r["regex"] for r in rules[-2:]] == ["(?:dense)", "(?:conv_1)"]
    assert {r["algorithm_key"] for r in rules[1:]} == {"no_quantize"}
    assert get_mode("dynamic_int4").with_options(keep_float="dense").rules()[-1]["regex"] == "(?:dense)"


@pytest.mark.parametrize("name", QUANTIZER)
def test_quantizer_cache_keys_carry_the_rules_and_follow_the_options(name):
    mode = get_mode(name)
    key = mode.cache_key()
    assert key["rules"] == mode.rules() and key["recipe"]
    assert mode.with_options(keep_float=["x"]).cache_key() != key


def test_the_blockwise_rules_follow_the_block_size():
    rules = get_mode("dynamic_int4_blockwise").with_options(block_size=128).rules()
    assert [(r["regex"], r["operation"], r["op_config"]["weight_tensor_config"]["granularity"]) for r in rules] == [
        ("^", "FULLY_CONNECTED", "CHANNELWISE"), ("^", "EMBEDDING_LOOKUP", "CHANNELWISE"),
        (".*", "FULLY_CONNECTED", "BLOCKWISE_128"), (".*", "EMBEDDING_LOOKUP", "BLOCKWISE_128")]


def test_an_ai_edge_quantizer_mode_is_not_a_post_training_mode_to_follow():
    with pytest.raises(ModeError) as excinfo:
        get_mode("clustered").with_options(then="dynamic_int4")
    assert "float32, dynamic_int8, float16, int8, full_int8, int16x8" in excinfo.value.hint
