"""What the per-layer drill-down costs on the suites' MobileNet, and what it finds.

Run from the repository root:

    .venv/bin/python benchmarks/bench_drilldown.py
    .venv/bin/python benchmarks/bench_drilldown.py --mode int8 --mode int16x8 --runs 9

The model is the reference suites' declared ``mobilenet`` (``suites/tflite_models.py``,
weights ``suites/weights/mobilenet.h5``), converted under float32 and each ``--mode`` from
the ``--cache-dir`` conversion cache (a cold cache converts them first), and compared on 16
samples spread over its evaluation split, as a failed accuracy check compares it. For each
mode it prints the drill-down's time (the first call, which loads both models with every
tensor kept, and the median of ``--runs`` more), ai-edge-quantizer's
``model_validator.compare_model`` on the same samples for comparison, and the drill-down's
table of the five layers that add the most error, with the fix it names.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_tflite import Converter  # noqa: E402
from pytest_tflite.drilldown import MAX_SAMPLES, drill_down_text, layer_errors  # noqa: E402
from pytest_tflite.evaluate import evaluation_inputs  # noqa: E402
from pytest_tflite.model.runtime import plain_name  # noqa: E402


def convert(cache_dir: str, modes: list[str]):
    from suites.tflite_models import mobilenet

    converter = Converter(cache_dir)
    options = {
        "representative_data": mobilenet.resolved("representative_data"),
        "name": mobilenet.name,
        "training_data": mobilenet.resolved("training_data"),
        "compile_config": mobilenet.compile_config,
    }
    source = mobilenet.resolved("source")
    models = {mode: converter.convert(source, mode, **options) for mode in ["float32", *modes]}
    return models, mobilenet.resolved("evaluation_data"), dict(converter.stats)


def spread(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """The rows the drill-down itself picks: MAX_SAMPLES spread over the set."""
    total = len(arrays[0])
    picked = sorted(set(np.linspace(0, total - 1, min(total, MAX_SAMPLES)).round().astype(int).tolist()))
    return [a[picked] for a in arrays]


def timed(fn, runs: int) -> tuple[float, float, object]:
    started = time.perf_counter()
    result = fn()
    first = time.perf_counter() - started
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return first, statistics.median(times), result


def compare_model_seconds(reference, model, arrays: list[np.ndarray], runs: int) -> str:
    """ai-edge-quantizer's validator on the same samples (its import not counted)."""
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import model_validator
    from ai_edge_quantizer.utils.validation_utils import ValidationErrorMetric as M

    signatures = Interpreter(model_content=reference.content).get_signature_list()
    if not signatures:
        return "no signature"
    key, signature = next(iter(signatures.items()))
    names = [plain_name(t.name) for t in reference.inputs]
    by_name = dict(zip(names, arrays))
    data = {key: [{n: by_name[n][i : i + 1] for n in signature["inputs"]} for i in range(len(arrays[0]))]}

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model_validator.compare_model(
                reference.content, model.content, data, [M.MSE, M.SNR, M.COSINE_SIMILARITY]
            )

    try:
        first, median, _ = timed(run, runs)
    except (KeyError, ValueError) as exc:
        return f"fails: {type(exc).__name__} {exc}"
    return f"{first:.3f} s first, {median:.3f} s median"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default="/tmp/suitecache2", help="conversion cache (default: /tmp/suitecache2)")
    parser.add_argument("--mode", action="append", dest="modes", help="quantized mode(s) to drill into (default: int8)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs after the first (default: 5)")
    args = parser.parse_args()
    modes = args.modes or ["int8"]

    started = time.perf_counter()
    models, data, stats = convert(args.cache_dir, modes)
    print(f"mobilenet under float32, {', '.join(modes)} ({stats}) in {time.perf_counter() - started:.1f} s")
    reference = models["float32"]
    arrays = spread(evaluation_inputs(reference, data))
    names = [plain_name(t.name) for t in reference.inputs]
    samples = dict(zip(names, arrays))
    for mode in modes:
        model = models[mode]
        first, median, errors = timed(lambda: layer_errors(reference, model, samples), args.runs)
        print(f"\n== {mode} against float32: {len(model.operators)} operators, {errors.samples} samples")
        print(f"drill-down: {first:.3f} s first, {median:.3f} s median of {args.runs}")
        print(f"ai-edge-quantizer compare_model: {compare_model_seconds(reference, model, arrays, args.runs)}")
        print(f"compared: {len(errors.layers)} layers, {len(errors.weights)} weights, "
              f"{len(errors.unmatched)} float32 tensors without a counterpart")
        print(drill_down_text(errors))


if __name__ == "__main__":
    main()
