"""PyTorch modules as sources: litert-torch converts them to float32, without TensorFlow."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from pytest_tflite import ConversionError, Converter, ModeUnavailable, SourceError, TorchModule

if os.environ.get("PYTEST_TFLITE_REQUIRE_TORCH") == "1":  # set where the extra is installed: run, never skip
    torch = importlib.import_module("torch")
    importlib.import_module("litert_torch")
else:
    torch = pytest.importorskip("torch")
    pytest.importorskip("litert_torch")

TINY_NET = """
    import torch

    class TinyNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.fc = torch.nn.Linear(8 * 8 * 8, 4)

        def forward(self, x):
            return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))
"""
"""A small convolutional classifier on 1x3x8x8 inputs (NCHW, as PyTorch lays them out)."""

namespace: dict[str, object] = {}
exec(textwrap.dedent(TINY_NET), namespace)
TinyNet = namespace["TinyNet"]


def _tiny(seed: int = 0) -> TorchModule:
    torch.manual_seed(seed)
    return TorchModule(TinyNet(), (torch.randn(1, 3, 8, 8),))


def test_a_module_converts_to_a_float32_model_that_computes_what_torch_does():
    source = _tiny()
    model = Converter().convert(source, "float32")
    x = np.random.default_rng(0).standard_normal((5, 3, 8, 8)).astype(np.float32)
    expected = source.module(torch.from_numpy(x)).detach().numpy()
    assert model.name == "TinyNet"
    assert {op.name for op in model.operators} >= {"CONV_2D", "FULLY_CONNECTED"}
    assert np.abs(model.predict(x) - expected).max() < 1e-4


@pytest.mark.slow
def test_a_module_converts_without_tensorflow_and_once_per_cache_folder(tmp_path):
    script = tmp_path / "convert.py"
    script.write_text(TINY_NET_SCRIPT)

    def run() -> list[str]:
        done = subprocess.run([sys.executable, str(script), str(tmp_path / "cache")], capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.split()

    assert run() == ["FULLY_CONNECTED", "converted", "1", "tensorflow", "False", "litert_torch", "True"]
    # the same weights again: read from the cache folder, litert-torch not even imported
    assert run() == ["FULLY_CONNECTED", "converted", "0", "tensorflow", "False", "litert_torch", "False"]


TINY_NET_SCRIPT = textwrap.dedent(TINY_NET) + textwrap.dedent("""
    import sys
    from pytest_tflite import Converter, TorchModule

    torch.manual_seed(0)
    converter = Converter(sys.argv[1])
    model = converter.convert(TorchModule(TinyNet(), (torch.randn(1, 3, 8, 8),)), "float32")
    print(model.operators[-1].name, "converted", converter.stats["converted"],
          "tensorflow", "tensorflow" in sys.modules, "litert_torch", "litert_torch" in sys.modules)
""")


@pytest.mark.parametrize("mode", ["int4_weights", "dynamic_int4"])
def test_the_quantizer_modes_quantize_a_module(mode):
    source = _tiny()
    converter = Converter()
    float32 = converter.convert(source, "float32")
    quantized = converter.convert(source, mode)
    assert quantized.mode == mode
    assert quantized.size_bytes < float32.size_bytes / 2
    x = np.random.default_rng(0).standard_normal((8, 3, 8, 8)).astype(np.float32)
    assert np.mean(quantized.predict(x).argmax(1) == float32.predict(x).argmax(1)) >= 0.75


def test_a_declared_module_runs_under_float32_and_the_quantizer_modes(pytester: pytest.Pytester):
    pytester.makepyfile(tflite_models=textwrap.dedent(TINY_NET) + textwrap.dedent("""
        import numpy as np
        from pytest_tflite import DeclaredModel, TorchModule


        def source():
            torch.manual_seed(0)
            return TorchModule(TinyNet(), (torch.randn(1, 3, 8, 8),))


        tiny = DeclaredModel("tiny", source=source,
                             representative_data=np.random.default_rng(0).random((8, 3, 8, 8), dtype=np.float32))
    """))
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "converts", "-rfs")
    converted = ["float32", "int4_weights", "dynamic_int4", "dynamic_int4_blockwise", "int16_activations", "recipe"]
    result.assert_outcomes(passed=len(converted), skipped=12)  # the TensorFlow converter's modes
    result.stdout.fnmatch_lines(["*'full_int8': this mode runs TensorFlow's converter*"])


def test_the_fingerprint_follows_the_weights_not_the_object():
    assert _tiny(0).fingerprint() == _tiny(0).fingerprint()
    assert _tiny(0).fingerprint() != _tiny(1).fingerprint()


class _Tripled(TinyNet):
    def forward(self, x):
        return super().forward(x) * 3


def test_the_fingerprint_follows_the_code_of_forward():
    torch.manual_seed(0)
    plain = TorchModule(TinyNet(), (torch.randn(1, 3, 8, 8),))
    torch.manual_seed(0)
    tripled = TorchModule(_Tripled(), (torch.randn(1, 3, 8, 8),))
    tripled.module.load_state_dict(plain.module.state_dict())
    assert plain.fingerprint() != tripled.fingerprint()


def test_the_tensorflow_converters_modes_do_not_apply_to_a_module():
    with pytest.raises(ModeUnavailable, match="litert-torch converts a PyTorch module to float32") as raised:
        Converter().convert(_tiny(), "full_int8")
    assert "int4_weights" in raised.value.hint


def test_converting_leaves_the_module_in_the_mode_it_was_in():
    source = _tiny()
    source.module.train()
    Converter().convert(source, "float32")
    assert source.module.training


def test_a_module_without_sample_inputs_says_how_to_give_them():
    with pytest.raises(SourceError, match="needs sample inputs") as raised:
        Converter().convert(TinyNet(), "float32")
    assert "TorchModule(module, (torch.randn" in raised.value.hint


def test_sample_inputs_must_be_a_tuple():
    with pytest.raises(SourceError, match="sample inputs as a tuple"):
        TorchModule(TinyNet(), torch.randn(1, 3, 8, 8))


class _DataDependent(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # control flow on values: torch.export cannot trace it
            return x * 2
        return x


def test_a_module_litert_torch_cannot_trace_is_a_conversion_error():
    with pytest.raises(ConversionError, match="litert-torch could not convert") as raised:
        Converter().convert(TorchModule(_DataDependent(), (torch.randn(1, 4),)), "float32")
    assert raised.value.source == "_DataDependent"
    assert raised.value.detail
