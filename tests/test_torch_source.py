"""PyTorch modules as sources: litert-torch converts them to float32, without TensorFlow."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from pytest_tflite import ConversionError, Converter, SourceError, TorchModule

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
def test_converting_a_module_imports_no_tensorflow(tmp_path):
    script = tmp_path / "convert.py"
    script.write_text(TINY_NET_SCRIPT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["FULLY_CONNECTED", "tensorflow:", "False"]


TINY_NET_SCRIPT = textwrap.dedent(TINY_NET) + textwrap.dedent("""
    import sys
    from pytest_tflite import Converter, TorchModule

    model = Converter().convert(TorchModule(TinyNet(), (torch.randn(1, 3, 8, 8),)), "float32")
    print(model.operators[-1].name, "tensorflow:", "tensorflow" in sys.modules)
""")


def test_the_fingerprint_follows_the_weights_not_the_object():
    assert _tiny(0).fingerprint() == _tiny(0).fingerprint()
    assert _tiny(0).fingerprint() != _tiny(1).fingerprint()


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
