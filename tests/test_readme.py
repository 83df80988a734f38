"""The README's promises: two command lines first, and CI runs the same test line."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_command_lines() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "the README starts with a bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_starts_with_exactly_two_lines():
    text = (ROOT / "README.md").read_text()
    assert text.index("```bash") < text.index("##"), "the command lines come before any section"
    lines = readme_command_lines()
    assert len(lines) == 2
    assert "pip install" in lines[0] and "pytest suites" in lines[0]
    assert "pytest tests" in lines[1]


def test_ci_runs_the_readme_test_line():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_command_lines()[1] in ci


def test_every_documented_option_exists():
    from pytest_tflite import options

    source = Path(options.__file__).read_text()
    documented = set(re.findall(r"`(--tflite-[a-z-]+)", (ROOT / "README.md").read_text()))
    assert documented, "the README documents the options"
    for option in documented:
        assert f'"{option}"' in source, f"{option} is documented but not defined"


def test_every_documented_ini_key_exists(pytester):
    text = (ROOT / "README.md").read_text()
    options = text[text.index("## Options") :]
    options = options[: options.index("\n## ", 1)]
    documented = set(re.findall(r"\| `(tflite_[a-z_]+)` \|", options))
    assert {"tflite_modes", "tflite_targets", "tflite_budgets", "tflite_golden_dir"} <= documented
    result = pytester.runpytest("--help")
    for key in documented:
        result.stdout.fnmatch_lines([f"*{key} (*"])
