"""The Quickstart is the front door: two lines, the second is what CI runs, both fast by design.

Times are measured by `benchmarks/quickstart.py` (README "Benchmarks"), not asserted here; what
is asserted is what keeps them fast and true: uv installs the environment, the suite runs on
every core with a test file per worker, and CI runs the README's line 2 verbatim.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _quickstart_lines() -> list[str]:
    spec = importlib.util.spec_from_file_location("quickstart", ROOT / "benchmarks/quickstart.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.quickstart_lines(ROOT / "README.md")


def test_quickstart_is_two_lines_that_set_up_then_run_the_demo_and_the_tests() -> None:
    lines = _quickstart_lines()
    assert len(lines) == 2, lines
    assert lines[0].endswith("just demo"), lines[0]
    assert lines[1].endswith("just test"), lines[1]
    for line in lines:
        # uv installs the environment (about 10 s cold, against pip's 100 s); pip only
        # bootstraps uv, so the line needs nothing but Python and git.
        words = shlex.split(line)
        assert "uv" in words and words[:4] == ["python3", "-m", "venv", ".venv"], line
        # uv writes no .pyc by default, and where PYTHONDONTWRITEBYTECODE is set (this
        # machine, CI) every process of the suite compiled Dagster again: 408 s instead of 245.
        assert "--compile-bytecode" in words, line


def test_ci_runs_the_readme_test_line_verbatim() -> None:
    ci = (ROOT / ".ci/run").read_text(encoding="utf-8")
    commands = [ln for ln in ci.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert commands[-1] == _quickstart_lines()[1]


def test_the_suite_runs_on_every_core_and_one_more_with_a_file_per_worker() -> None:
    justfile = (ROOT / "justfile").read_text(encoding="utf-8")
    recipe = re.search(r"^test\b[^\n]*:[^\n]*\n((?:[ \t]+[^\n]*\n)+)", justfile, re.M)
    assert recipe is not None, "no test recipe"
    body = recipe.group(1)
    # One worker more than cores: the end-to-end file spends most of its time waiting for
    # Dagster's daemon (30 s loops), and the extra worker runs other files meanwhile (2 cores:
    # 250 s against 288 s with two workers).
    assert "pytest" in body and "-n $(( {{num_cpus()}} + 1 ))" in body, body
    assert "--dist loadfile --no-loadscope-reorder" in body, body
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"pytest-xdist' in pyproject
