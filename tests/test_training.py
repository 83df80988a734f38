"""Training-time modes: real fine-tunes of small tf-keras models, converted and run in LiteRT."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from pytest_tflite import Converter, DatasetError, ModeError, TrainingUnavailable, convert, get_mode
from pytest_tflite.conversion.modes import mode_names
from pytest_tflite.conversion.trainer import APART_ENV
from pytest_tflite.errors import ConversionError, TFLiteError

TRAINING_MODES = [m for m in mode_names() if get_mode(m).needs_training_data]
SAMPLES = 256
SPARSITY = 0.6
CLUSTERS = 8


def quick(name, **options):
    """The mode with a one-epoch fine-tune (enough to test the mechanics in seconds), with
    settings the checks below can see: 60% sparsity, 8 clusters."""
    mode = get_mode(name)
    preset = {"sparsity": SPARSITY, "clusters": CLUSTERS}
    chosen = {k: v for k, v in preset.items() if k in mode.options}
    return mode.with_options(**{"epochs": 1, **chosen, **options})


def learnable_data(seed: int, count: int = SAMPLES):
    """Inputs shaped like the tiny models', whose label is the quarter that is brighter."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, count)
    x = 0.5 * rng.random((count, 4, 16), dtype=np.float32)
    x[np.arange(count), y] += 0.5
    return x.reshape(count, 8, 8), y


def classifier(keras, name="trainable", compiled=True):
    # Named layers: the converted tensors are named after them, and generated names
    # (dense_7) depend on how many models the process built before.
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8), name="x"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(32, activation="relu", name="hidden"),
            keras.layers.Dense(4, name="logits"),
        ],
        name=name,
    )
    if compiled:
        model.compile(
            optimizer=keras.optimizers.Adam(1e-2),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    return model


@pytest.fixture(scope="module")
def training_data():
    return learnable_data(0)


@pytest.fixture(scope="module")
def trained(tf_keras, training_data):
    model = classifier(tf_keras)
    model.fit(*training_data, epochs=3, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="module")
def untouched(trained):
    """The trained model's weights before any fine-tune, to show they are never changed."""
    return [w.copy() for w in trained.get_weights()]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory, trained, training_data):
    """``tuned(mode, **options)``: the trained model fine-tuned and converted, once per run:
    pytest-xdist workers share the cache folder, whose lock lets one of them fine-tune."""
    root = tmp_path_factory.getbasetemp()
    converter = Converter((root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "tuned")

    def run(name, **options):
        return converter.convert(trained, quick(name, **options), training_data=training_data)

    return run


def kernels(model):
    """The 2-D constant tensors (fully connected weights), read through the interpreter."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model.content)
    return [
        interpreter.get_tensor(t.index)
        for t in model.tensors
        if t.is_constant and len(t.shape) == 2
    ]


# --- each mode -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", TRAINING_MODES)
def test_every_training_mode_converts_and_runs(tuned, name, test_inputs, training_data, trained, untouched):
    model = tuned(name)
    assert all(np.array_equal(a, b) for a, b in zip(untouched, trained.get_weights()))
    mode = get_mode(name)
    assert model.mode == name
    outputs = model.predict(test_inputs)
    assert outputs.shape == (len(test_inputs), 4)
    assert np.all(np.isfinite(outputs))
    expected_io = "int8" if mode.activations == "int8" else "float32"
    assert [t.dtype for t in model.inputs] == [expected_io]
    x, y = training_data
    assert np.mean(model.predict(x).argmax(1) == y) > 0.5  # it still classifies


def test_pruned_weights_reach_the_sparsity_and_only_the_gzipped_size_shrinks(tuned, shared_converter, trained):
    pruned = tuned("pruned")
    for kernel in kernels(pruned):
        assert np.mean(kernel == 0) >= SPARSITY - 1 / kernel.size
    reference = shared_converter.convert(trained, "float32")
    assert pruned.size_bytes >= 0.95 * reference.size_bytes
    assert pruned.gzip_size_bytes < 0.8 * reference.gzip_size_bytes


def test_pruning_survives_quantization_aware_training(tuned):
    for kernel in kernels(tuned("pruned_qat_int8")):
        assert kernel.dtype == np.int8
        assert np.mean(kernel == 0) >= SPARSITY - 1 / kernel.size


@pytest.mark.parametrize("name", ["clustered", "clustered_qat_int8", "pruned_clustered"])
def test_clustered_kernels_hold_at_most_n_values(tuned, name):
    for kernel in kernels(tuned(name)):
        assert len(np.unique(kernel)) <= CLUSTERS + ("pruned" in name)  # + the pruned zeros


def test_the_users_model_is_never_changed(trained, untouched, training_data):
    from pytest_tflite.conversion.progress import echo_progress

    lines = []
    stop = echo_progress(lines.append)  # how the plugin shows epochs in verbose mode
    try:
        converter = Converter()
        converter.convert(trained, quick("clustered", epochs=2, seed=2), training_data=training_data)
    finally:
        stop()
    assert converter.stats["fine_tuned"] == 1
    assert [line.split(": epoch ")[1][:3] for line in lines if ": epoch " in line] == ["1/2", "2/2"]
    assert lines[0] == "fine-tuning trainable under clustered"
    assert all(np.array_equal(a, b) for a, b in zip(untouched, trained.get_weights()))
    modules = {type(layer).__module__ for layer in trained.layers}
    assert not [m for m in modules if "model_optimization" in m]
    assert type(trained.optimizer).__name__ == "Adam"


# --- determinism and the cache -------------------------------------------------------


def test_two_fine_tunes_with_the_same_seed_give_the_same_bytes(tuned, trained, training_data, caplog):
    first = tuned("pruned")  # perhaps fine-tuned by the other xdist worker
    caplog.set_level(logging.INFO, logger="pytest_tflite.training")
    again = Converter().convert(trained, quick("pruned"), training_data=training_data)
    assert all(np.array_equal(a, b) for a, b in zip(kernels(again), kernels(first)))
    assert again.content == first.content
    # Each epoch is logged, for pytest to show in verbose mode.
    lines = [r.getMessage() for r in caplog.records if r.name == "pytest_tflite.training"]
    assert len(lines) == 1
    assert lines[0].startswith("model 'trainable', mode 'pruned', prune: epoch 1/1: loss ")


def test_fine_tunes_are_cached_by_everything_that_shapes_them(tmp_path, trained, training_data, tf):
    mode = quick("pruned")
    converter = Converter(tmp_path)
    converter.convert(trained, mode, training_data=training_data)
    assert converter.stats["fine_tuned"] == 1
    # The same data as a batched tf.data.Dataset is the same training set: reused in memory.
    dataset = tf.data.Dataset.from_tensor_slices(training_data).batch(7)
    converter.convert(trained, mode, training_data=dataset)
    assert (converter.stats["fine_tuned"], converter.stats["memory"]) == (1, 1)

    again = Converter(tmp_path)
    again.convert(trained, mode, training_data=training_data)
    assert (again.stats["fine_tuned"], again.stats["disk"]) == (0, 1)

    again.convert(trained, mode.with_options(epochs=2), training_data=training_data)
    assert again.stats["fine_tuned"] == 1


@pytest.mark.parametrize(
    "change",
    [
        {"seed": 1},
        {"compile_config": {"optimizer": "sgd"}},
        {"compile_config": {"loss": "mse"}},
        {"data": slice(0, 128)},
    ],
    ids=["seed", "optimizer", "loss", "data"],
)
def test_the_fine_tune_key_changes_with_what_shapes_it(trained, training_data, change):
    from pytest_tflite.conversion.sources import as_source
    from pytest_tflite.conversion.training import prepare

    def key(mode, data=slice(None), compile_config=None):
        x, y = training_data
        training = prepare(as_source(trained), mode.name, (x[data], y[data]), compile_config)
        return (mode.cache_key(), training.cache_key())

    mode = quick("pruned")
    if "seed" in change:
        assert key(mode.with_options(**change)) != key(mode)
    else:
        assert key(mode, **change) != key(mode)


# --- Keras 3 sources ----------------------------------------------------------------


def test_a_keras3_model_is_rebuilt_in_tf_keras_with_the_same_outputs(keras3, test_inputs):
    from pytest_tflite.conversion.rebuild import as_tf_keras

    keras3.utils.set_random_seed(0)
    a, b = keras3.Input((8,), name="a"), keras3.Input((8, 8, 1), name="b")
    conv = keras3.layers.GlobalAveragePooling2D()(keras3.layers.Conv2D(4, 3, activation="relu")(b))
    dense = keras3.layers.BatchNormalization()(keras3.layers.Dense(8, activation="relu")(a))
    out = keras3.layers.Dense(3)(keras3.layers.Dropout(0.1)(keras3.layers.Concatenate()([dense, conv])))
    model = keras3.Model([a, b], out, name="two_inputs")
    rebuilt = as_tf_keras(model, source="two_inputs", mode="pruned")
    assert type(rebuilt).__module__.startswith("tf_keras.")
    feed = [test_inputs[:, 0, :], test_inputs[..., np.newaxis]]
    expected = np.asarray(model(feed, training=False))
    assert np.allclose(rebuilt(feed, training=False).numpy(), expected, atol=1e-5)


def test_a_keras3_model_fine_tunes_with_a_keras3_loss(keras3, training_data, test_inputs):
    model = classifier(keras3, name="k3", compiled=False)
    loss = keras3.losses.SparseCategoricalCrossentropy(from_logits=True)
    converted = convert(model, quick("clustered"), training_data=training_data,
                        compile_config={"loss": loss})
    assert converted.predict(test_inputs).shape == (len(test_inputs), 4)
    assert all(len(np.unique(k)) <= CLUSTERS for k in kernels(converted))


def test_a_keras3_model_that_cannot_be_rebuilt_says_how_to_run_these_modes(keras3, training_data):
    class Subclassed(keras3.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras3.layers.Dense(4)

        def call(self, x):
            return self.dense(keras3.ops.reshape(x, (-1, 64)))

    model = Subclassed()
    model(np.zeros((1, 8, 8), np.float32))
    with pytest.raises(TrainingUnavailable) as error:
        convert(model, quick("qat_int8"), training_data=training_data, compile_config={"loss": "mse"})
    assert "TF_USE_LEGACY_KERAS=1" in str(error.value)
    assert "subclassed" in str(error.value)


def test_a_keras3_custom_layer_is_refused_with_the_advice(keras3, training_data):
    class Scale(keras3.layers.Layer):
        def call(self, x):
            return 2.0 * x

    model = keras3.Sequential([keras3.Input((8, 8)), keras3.layers.Flatten(), Scale(), keras3.layers.Dense(4)])
    with pytest.raises(TrainingUnavailable, match="custom class") as error:
        convert(model, quick("pruned"), training_data=training_data, compile_config={"loss": "mse"})
    assert "TF_USE_LEGACY_KERAS=1" in str(error.value)


# --- what is missing or wrong --------------------------------------------------------


def test_a_training_time_mode_without_training_data_says_what_to_pass(trained):
    with pytest.raises(TrainingUnavailable, match=r"needs training data.*training_data=\(x, y\)"):
        convert(trained, "qat_int8")
    assert issubclass(TrainingUnavailable, ModeError)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.zeros((8, 8, 8), np.float32), "not features with labels"),
        ((np.zeros((8, 8, 8), np.float32), np.zeros(5)), "8 sample(s) but 5 label(s)"),
        ((np.zeros((0, 8, 8), np.float32), np.zeros(0)), "the training data is empty"),
        (
            (np.zeros((8, 4, 4), np.float32), np.zeros(8)),
            "a sample of the training data has shape (4, 4) but input 'x'",
        ),
        ((np.full((8, 8, 8), np.nan, np.float32), np.zeros(8)), "NaN"),
    ],
    ids=["no-labels", "length-mismatch", "empty", "wrong-shape", "nan"],
)
def test_bad_training_data_is_reported_in_words(trained, data, message):
    with pytest.raises(DatasetError) as error:
        convert(trained, "pruned", training_data=data)
    assert message in str(error.value)
    assert "training data" in str(error.value)


def test_an_uncompiled_model_needs_a_loss(tf_keras, training_data):
    with pytest.raises(ModeError, match="no loss was given.*compile_config"):
        convert(classifier(tf_keras, compiled=False), "pruned", training_data=training_data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda: get_mode("pruned").with_options(then="qat_int8"), "not a post-training mode"),
        (lambda: get_mode("clustered").with_options(sparsity=0.5), "unknown option"),
    ],
)
def test_mode_options_are_checked(change, message):
    with pytest.raises(ModeError, match=message):
        change()


def test_then_decides_what_the_fine_tuned_model_computes_in():
    assert get_mode("pruned").activations == "float32"
    follows = get_mode("pruned").with_options(then="full_int8")
    assert (follows.activations, follows.needs_representative_data) == ("int8", True)
    assert get_mode("qat_int8").activations == "int8"
    assert get_mode("pruned").cache_key() != follows.cache_key()


# --- the source article's experiment on bundled digits ---------------------------------


@pytest.fixture(scope="module")
def digits_experiment(tf_keras):
    from suites.digits import load_digits_28, train_dense_mlp

    x_train, y_train, x_test, y_test = load_digits_28()
    model = train_dense_mlp(x_train, y_train)
    converter = Converter()

    def measure(mode):
        converted = converter.convert(model, mode, training_data=(x_train, y_train))
        accuracy = float(np.mean(converted.predict(x_test).argmax(1) == y_test))
        return converted, accuracy

    return measure


@pytest.mark.slow
def test_article_quantization_aware_training_keeps_accuracy_within_a_point(digits_experiment, record_property):
    _, float_accuracy = digits_experiment("float32")
    qat, qat_accuracy = digits_experiment("qat_int8")
    record_property("float32_accuracy", float_accuracy)
    record_property("qat_int8_accuracy", qat_accuracy)
    print(f"digits: float32 {float_accuracy:.2%}, qat_int8 {qat_accuracy:.2%} ({qat.size_bytes:,} bytes)")
    assert qat_accuracy >= float_accuracy - 0.01


def test_article_clustering_shrinks_the_zipped_model_about_sevenfold(digits_experiment, record_property):
    reference, float_accuracy = digits_experiment("float32")
    clustered, accuracy = digits_experiment("clustered")
    ratio = reference.gzip_size_bytes / clustered.gzip_size_bytes
    record_property("clustered_gzip_ratio", ratio)
    print(
        f"digits: gzipped float32 {reference.gzip_size_bytes:,} B, clustered "
        f"{clustered.gzip_size_bytes:,} B (1/{ratio:.1f}); accuracy {float_accuracy:.2%} -> {accuracy:.2%}"
    )
    assert 5.0 <= ratio <= 8.0  # the article: 384 KB -> 56 KB, 1/6.9
    assert clustered.size_bytes >= 0.99 * reference.size_bytes  # raw size: no change
    assert accuracy >= float_accuracy - 0.01


# --- in pytest ------------------------------------------------------------------------

PLUGIN_CONFTEST = """
    import numpy as np
    import pytest


    @pytest.fixture(scope="session")
    def tflite_source():
        import tf_keras as keras

        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((8, 8), name="x"), keras.layers.Flatten(name="f"),
                                  keras.layers.Dense(4, name="d")], name="plugin_model")
        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model
"""
TRAINING_DATA = """

    @pytest.fixture
    def tflite_training_data():
        rng = np.random.default_rng(0)
        return rng.random((64, 8, 8), dtype=np.float32), rng.integers(0, 4, 64)
"""
MODE_TEST = """
    def test_model(tflite_model, tflite_mode):
        assert tflite_model.mode == tflite_mode.name
"""


@pytest.fixture
def plugin_project(runtime_loaded, pytester):
    from pytest_tflite.conversion.training import tfmot

    tfmot()  # imported before the in-process run, like the rest of the runtime
    pytester.makepyfile(test_plugin_training=MODE_TEST)
    return pytester


def test_the_plugin_fine_tunes_with_the_training_data_fixture(plugin_project):
    plugin_project.makeconftest(PLUGIN_CONFTEST + TRAINING_DATA)
    args = ("-p", "no:cacheprovider", "--tflite-mode", "float32,pruned")
    plugin_project.runpytest(*args).assert_outcomes(passed=2)


def test_verbose_runs_show_a_line_per_fine_tune_epoch(plugin_project):
    """In a real session, whose output capture swallows what a test prints: the lines are
    written past it."""
    plugin_project.makeconftest(PLUGIN_CONFTEST + TRAINING_DATA)
    args = ("-p", "no:cacheprovider", "--tflite-mode", "pruned")
    verbose = plugin_project.runpytest_subprocess("-v", *args)
    verbose.assert_outcomes(passed=1)
    verbose.stdout.fnmatch_lines(
        [
            "tflite: fine-tuning plugin_model under pruned",
            "tflite: *epoch 1/2: loss *",
            "tflite: *epoch 2/2: loss *",
            "tflite: fine-tuned and converted plugin_model under pruned in * s",
        ]
    )


def test_every_run_says_what_it_converts_and_for_how_long(plugin_project):
    plugin_project.makeconftest(PLUGIN_CONFTEST + TRAINING_DATA)
    cache = ("--tflite-cache-dir", str(plugin_project.path / "cache"))
    args = ("-p", "no:cacheprovider", "--tflite-mode", "float32,pruned", *cache)
    cold = plugin_project.runpytest_subprocess(*args)
    cold.assert_outcomes(passed=2)
    cold.stdout.fnmatch_lines(["tflite: converted plugin_model under float32 in * s"])
    cold.stdout.fnmatch_lines(["tflite: fine-tuned and converted plugin_model under pruned in * s"])
    cold.stdout.no_fnmatch_line("*epoch 1/2*")
    warm = plugin_project.runpytest_subprocess(*args)
    warm.assert_outcomes(passed=2)
    warm.stdout.no_fnmatch_line("tflite: *converted*")


def test_pytest_xdist_workers_say_what_they_convert_on_the_controllers_terminal(plugin_project):
    plugin_project.makeconftest(PLUGIN_CONFTEST + TRAINING_DATA)
    args = ("-p", "no:cacheprovider", "-p", "xdist", "-n", "2", "--tflite-mode", "float32,pruned")
    result = plugin_project.runpytest_subprocess(*args)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["tflite: converted plugin_model under float32 in * s"])
    result.stdout.fnmatch_lines(
        [
            "tflite: fine-tuning plugin_model under pruned",
            "tflite: fine-tuned and converted plugin_model under pruned in * s",
        ]
    )


def test_without_training_data_the_training_time_modes_skip_with_the_reason(plugin_project):
    plugin_project.makeconftest(PLUGIN_CONFTEST)
    result = plugin_project.runpytest("-p", "no:cacheprovider", "-rs", "--tflite-mode", "float32,qat_int8")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*mode 'qat_int8': this mode fine-tunes the model*tflite_training_data*"])


def test_labels_that_do_not_fit_the_loss_fail_with_the_reason(trained, training_data):
    from pytest_tflite import TFLiteError

    x, y = training_data
    with pytest.raises(TFLiteError, match=r"the fine-tune \(prune\) stopped with an error") as error:
        convert(trained, quick("pruned"), training_data=(x, np.stack([y, y], axis=1)))
    assert not isinstance(error.value, TrainingUnavailable)  # a failure, never a skip



@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file")  # the legacy format on purpose
@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_a_saved_model_file_fine_tunes_with_its_own_compile_configuration(tmp_path, trained, training_data, suffix):
    """tf-keras gives a ``.h5`` file's metrics back as nested serialized wrappers, which
    compile() cannot read again; the fine-tune takes their names."""
    path = tmp_path / f"trained{suffix}"
    trained.save(path)
    model = Converter().convert(str(path), quick("qat_int8"), training_data=training_data)
    assert model.mode == "qat_int8" and model.runner.predict(training_data[0][:2]).shape == (2, 4)


def test_metrics_of_an_h5_compile_configuration_are_read_as_names():
    from pytest_tflite.conversion.training import _metric_names

    wrapper = {"module": "keras.metrics", "class_name": "MeanMetricWrapper",
               "config": {"name": "accuracy", "dtype": "float32", "fn": "categorical_accuracy"}}
    assert _metric_names([[wrapper]]) == ["accuracy"]
    auc = {"class_name": "AUC", "config": {}}
    assert _metric_names(["accuracy", auc]) == ["accuracy", auc]
    assert _metric_names(None) == []


def test_an_unreadable_metric_is_not_blamed_on_the_labels():
    from pytest_tflite.conversion.training import _fit_hint

    assert "compile_config" in _fit_hint("ValueError: Could not interpret metric identifier: None")
    assert "labels fit the loss" in _fit_hint("Shapes (32, 1) and (32, 4) are incompatible")


def test_modes_that_begin_alike_train_their_first_stage_once(tmp_path, trained, training_data):
    """pruned, pruned_clustered and pruned_qat_int8 all begin by pruning: the pruned weights
    are kept in the cache folder, and a mode that finds them gives the bytes it gives alone."""
    shared = Converter(tmp_path / "shared")
    shared.convert(trained, quick("pruned"), training_data=training_data)
    assert (shared.stats["stages_trained"], shared.stats["stages_reused"]) == (1, 0)
    after_pruned = shared.convert(trained, quick("pruned_clustered"), training_data=training_data)
    assert (shared.stats["stages_trained"], shared.stats["stages_reused"]) == (2, 1)

    alone = Converter(tmp_path / "alone")
    by_itself = alone.convert(trained, quick("pruned_clustered"), training_data=training_data)
    assert by_itself.content == after_pruned.content
    assert (alone.stats["stages_trained"], alone.stats["stages_reused"]) == (2, 0)

    # Another process reads the stage from the folder; without a folder, a converter keeps it.
    assert Converter(tmp_path / "shared").convert(trained, quick("pruned_qat_int8"), training_data=training_data)
    in_memory = Converter()
    in_memory.convert(trained, quick("pruned"), training_data=training_data)
    in_memory.convert(trained, quick("pruned_qat_int8"), training_data=training_data)
    assert in_memory.stats["stages_reused"] == 1


def test_a_stage_trained_with_other_settings_is_not_reused(tmp_path, trained, training_data):
    converter = Converter(tmp_path)
    converter.convert(trained, quick("pruned"), training_data=training_data)
    converter.convert(trained, quick("pruned_clustered", sparsity=0.3), training_data=training_data)
    assert (converter.stats["stages_trained"], converter.stats["stages_reused"]) == (3, 0)


# --- fine-tunes of model files run in a child process -------------------------------

APART_SCRIPT = """
import hashlib, sys
import numpy as np
from pytest_tflite import Converter, get_mode

rng = np.random.default_rng(0)
x, y = rng.random((64, 8, 8), dtype=np.float32), rng.integers(0, 4, 64)
mode = get_mode("pruned").with_options(epochs=1)
model = Converter().convert(sys.argv[1], mode, training_data=(x, y))
print(hashlib.sha256(model.content).hexdigest(), "tensorflow_model_optimization" in sys.modules)
"""


@pytest.fixture(scope="module")
def trained_file(tmp_path_factory, trained):
    path = tmp_path_factory.mktemp("files") / "trainable.keras"
    trained.save(path)
    return str(path)


def test_a_model_file_fine_tunes_in_a_child_process_with_the_same_bytes(pytester, trained_file, monkeypatch):
    """The asking process never loads tensorflow-model-optimization, so nothing a fine-tune
    builds stays in it; the bytes are those of a fine-tune in the process itself."""
    pytester.makepyfile(apart=APART_SCRIPT)
    apart = pytester.run(sys.executable, "apart.py", trained_file)
    monkeypatch.setenv(APART_ENV, "0")
    in_place = pytester.run(sys.executable, "apart.py", trained_file)
    assert apart.ret == in_place.ret == 0
    digest, loaded = apart.outlines[-1].split()
    assert loaded == "False"
    assert in_place.outlines[-1].split() == [digest, "True"]


def test_the_child_process_logs_each_epoch_here_as_it_is_written(trained_file, training_data, caplog):
    caplog.set_level(logging.INFO, logger="pytest_tflite.training")
    Converter().convert(trained_file, quick("clustered", seed=3), training_data=training_data)
    lines = [r.getMessage() for r in caplog.records if r.name == "pytest_tflite.training"]
    assert lines and lines[0].startswith("model 'trainable', mode 'clustered', cluster: epoch 1/1: loss ")


def test_an_error_in_the_child_process_comes_back_as_it_was(trained_file, training_data):
    x, y = training_data
    with pytest.raises(TFLiteError) as raised:
        Converter().convert(trained_file, quick("pruned", seed=4), training_data=(x, y + 10))
    assert type(raised.value) is TFLiteError
    assert raised.value.problem == "the fine-tune (prune) stopped with an error"
    assert raised.value.mode == "pruned" and raised.value.hint.startswith("Check that the labels fit the loss")


def test_a_killed_child_process_fails_that_conversion_only(trained_file, training_data):
    """Killed as the system's memory killer would: the conversion fails in words, and the
    next one starts a new child."""
    converter = Converter()
    before = set(fine_tuning_children())
    converter.convert(trained_file, quick("pruned", seed=5), training_data=training_data)
    (child,) = set(fine_tuning_children()) - before
    killer = threading.Timer(1.0, os.kill, (child, signal.SIGKILL))
    killer.start()
    with pytest.raises(ConversionError, match="the process fine-tuning this model stopped before it finished "
                       r"\(it was killed by SIGKILL"):
        converter.convert(trained_file, quick("pruned", seed=6, epochs=50), training_data=learnable_data(1, 4096))
    killer.join()
    assert converter.convert(trained_file, quick("pruned", seed=7), training_data=training_data).size_bytes


def fine_tuning_children() -> list[int]:
    """The process ids of this process's fine-tuning children, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid() and b"pytest_tflite.conversion.trainer" in command:
            found.append(int(entry.name))
    return found
