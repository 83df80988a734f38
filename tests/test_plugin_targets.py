"""Targets seen from pytest: --tflite-target, the ini key, the marker, skipped
combinations, the tflite_target and tflite_compatibility fixtures, bad selections.

Every test runs a real pytest session with ``pytester``, in-process.
"""

from __future__ import annotations

import pytest
from support import collected_ids

# A conftest that registers a target of its own: an integer-only accelerator that takes
# every operator whose output is int8 (a real rule, on the real converted model).
TARGET_CONFTEST = """
    import numpy as np
    import pytest

    from pytest_tflite.targets import (
        ON_CPU, ON_TARGET, CompatibilityReport, OpPlacement, Target, register_target,
    )


    def analyze(model, options):
        tensors = model.tensors
        ops = []
        for op in model.operators:
            integer = all(tensors[t].dtype == "int8" for t in op.outputs)
            ops.append(OpPlacement(
                op.index, op.name, op.version, ON_TARGET if integer else ON_CPU,
                "int8 operator" if integer else "float output",
                fix="" if integer else "convert with full_int8",
            ))
        return CompatibilityReport("npu", model.name, model.mode, ops, target_title="NPU")


    register_target(
        Target("npu", "NPU", "an int8-only accelerator", analyze, accepts=("int8",)),
        replace=True,
    )


    @pytest.fixture(scope="session")
    def keras_model():
        import tf_keras as keras

        keras.utils.set_random_seed(0)
        return keras.Sequential(
            [
                keras.Input((8,), name="x"),
                keras.layers.Dense(8, activation="relu", name="hidden"),
                keras.layers.Dense(4, name="logits"),
            ],
            name="tiny",
        )


    @pytest.fixture
    def tflite_source(keras_model):
        return keras_model


    @pytest.fixture
    def tflite_representative_data():
        return np.random.default_rng(0).random((16, 8), dtype=np.float32)
"""

TARGET_TESTS = """
    def test_target(tflite_target):
        assert tflite_target.name


    def test_model(tflite_model, tflite_target):
        assert tflite_model.size_bytes > 0


    def test_plain():
        pass
"""


@pytest.fixture
def project(runtime_loaded, pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(TARGET_CONFTEST)
    yield pytester
    from pytest_tflite.targets.registry import _REGISTRY

    _REGISTRY.pop("npu", None)


def test_default_target_is_cpu(project):
    project.makepyfile(test_t=TARGET_TESTS)
    result = project.runpytest("--collect-only", "-q", "--tflite-mode", "float32,int8")
    assert collected_ids(result) == [
        "test_target[cpu]",
        "test_model[float32-cpu]",
        "test_model[int8-cpu]",
        "test_plain",
    ]


@pytest.mark.parametrize(
    ("args", "targets"),
    [
        (("--tflite-target", "npu"), ["npu"]),
        (("--tflite-target", "npu,cpu"), ["npu", "cpu"]),
        (("--tflite-target", "npu", "--tflite-target", "cpu"), ["npu", "cpu"]),
        (("--tflite-target", "cpu, npu , cpu"), ["cpu", "npu"]),
    ],
    ids=["one", "comma", "repeated", "spaces-duplicates"],
)
def test_target_option_selects_targets(project, args, targets):
    project.makepyfile(test_t=TARGET_TESTS)
    result = project.runpytest("--collect-only", "-q", "--tflite-mode", "int8", *args)
    assert collected_ids(result) == (
        [f"test_target[{t}]" for t in targets]
        + [f"test_model[int8-{t}]" for t in targets]
        + ["test_plain"]
    )


def test_all_means_every_registered_target(project):
    from pytest_tflite.targets import target_names

    project.makepyfile(test_t="def test_target(tflite_target): pass")
    result = project.runpytest("--collect-only", "-q", "--tflite-target", "all")
    assert "npu" in target_names()
    assert collected_ids(result) == [f"test_target[{t}]" for t in target_names()]


@pytest.mark.parametrize("style", ["ini", "pyproject"])
def test_ini_key_sets_the_targets_and_the_option_overrides_it(project, style):
    if style == "ini":
        project.makeini("[pytest]\ntflite_targets = npu cpu\n")
    else:
        project.makepyprojecttoml('[tool.pytest.ini_options]\ntflite_targets = ["npu", "cpu"]\n')
    project.makepyfile(test_t="def test_target(tflite_target): pass")
    result = project.runpytest("--collect-only", "-q")
    assert collected_ids(result) == ["test_target[npu]", "test_target[cpu]"]
    result = project.runpytest("--collect-only", "-q", "--tflite-target", "cpu")
    assert collected_ids(result) == ["test_target[cpu]"]


def test_marker_narrows_targets_and_modes(project):
    project.makepyfile(
        test_m="""
        import pytest

        @pytest.mark.tflite(modes=["full_int8"], targets="npu")
        def test_m(tflite_model, tflite_target):
            pass
        """
    )
    args = ("--tflite-mode", "all", "--tflite-target", "cpu,npu")
    result = project.runpytest("--collect-only", "-q", *args)
    assert collected_ids(result) == ["test_m[full_int8-npu]"]


def test_marker_target_not_selected_is_one_skip(project):
    project.makepyfile(
        test_m="""
        import pytest

        @pytest.mark.tflite(targets=["npu"])
        def test_m(tflite_target):
            raise AssertionError("must not run")
        """
    )
    result = project.runpytest("-rs", "-v")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*test_m.py::test_m[[]no-target[]] SKIPPED*",
            "SKIPPED [[]1[]] *none of the marker's targets (npu) is selected (selected: cpu)*",
        ]
    )


def test_combination_that_can_never_hold_is_skipped_with_the_modes_that_fit(project):
    project.makepyfile(
        test_c="""
        from pytest_tflite.targets import assert_compatible

        def test_fits(tflite_model, tflite_target):
            assert_compatible(tflite_model, tflite_target, min_on_target=0.5)
        """
    )
    result = project.runpytest(
        "-rs", "-v", "-p", "no:cacheprovider",
        "--tflite-mode", "float32,full_int8", "--tflite-target", "npu",
    )
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*test_c.py::test_fits[[]float32-npu[]] SKIPPED*",
            "*test_c.py::test_fits[[]full_int8-npu[]] PASSED*",
            "SKIPPED [[]1[]] *the NPU cannot run float32 arithmetic, which mode 'float32' "
            "produces; modes that fit: int8, full_int8*",
        ]
    )


def test_combination_that_should_hold_and_does_not_fails_with_the_offenders(project):
    project.makepyfile(
        test_c="""
        from pytest_tflite.targets import assert_compatible

        def test_fits(tflite_model, tflite_target):
            assert_compatible(tflite_model, tflite_target)
        """
    )
    result = project.runpytest("-p", "no:cacheprovider", "--tflite-mode", "int8", "--tflite-target", "npu")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*CompatibilityFailure: model 'tiny', mode 'int8': does not fit the NPU: * of * "
            "operators (*%) run on the NPU, below the required 100%. convert with full_int8.",
            "*#  operator*runs on*reason*",
            "*QUANTIZE*cpu*float output*",
        ]
    )


def test_tflite_compatibility_is_the_report_of_the_current_model_and_target(project):
    project.makepyfile(
        test_r="""
        def test_report(tflite_compatibility, tflite_model, tflite_target, tflite_session):
            report = tflite_compatibility
            assert report.target == tflite_target.name
            assert report.model == tflite_model.name and report.mode == tflite_model.mode
            assert report.ops_total == len(tflite_model.operators)
            assert report.compatible
            # computed once per model bytes and target in a run
            assert tflite_session.compatibility(tflite_model, tflite_target) is report
        """
    )
    result = project.runpytest("-p", "no:cacheprovider", "--tflite-mode", "float32,full_int8")
    result.assert_outcomes(passed=2)


def test_unknown_target_fails_the_tests_that_use_targets_only(project):
    project.makepyfile(test_t=TARGET_TESTS)
    result = project.runpytest("-p", "no:cacheprovider", "--tflite-mode", "float32", "--tflite-target", "cpu,tpu")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_target[[]invalid[]]*",
            "*--tflite-target (or the tflite_targets ini key) names 'tpu', which is no "
            "registered target. Known targets: cpu*",
        ]
    )
    result.stdout.fnmatch_lines(["tflite: modes float32; targets cpu,tpu; *"])


def test_unknown_target_in_a_marker_fails_that_test_only(project):
    project.makepyfile(
        test_m="""
        import pytest

        @pytest.mark.tflite(targets=["edge"])
        def test_m(tflite_target):
            pass

        def test_other(tflite_target):
            pass
        """
    )
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*there is no target called 'edge'. Known targets: *"])


def test_user_parametrization_of_tflite_target_is_left_alone(project):
    project.makepyfile(
        test_u="""
        import pytest

        @pytest.mark.parametrize("tflite_target", ["npu"], indirect=True)
        def test_u(tflite_target):
            assert tflite_target.name == "npu"
        """
    )
    result = project.runpytest("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_u.py::test_u[[]npu[]] PASSED*"])


def test_help_documents_the_target_option_and_ini_key(pytester: pytest.Pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--tflite-target=NAME*", "*tflite_targets (args):*"])
