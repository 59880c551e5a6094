"""The API reference site builds from the docstrings with ``mkdocs build --strict`` (a broken reference fails)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_reference_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs is in the dev extra (make test installs it)")
    pytest.importorskip("mkdocstrings_handlers.python", reason="mkdocstrings[python] is in the dev extra")
    if not (ROOT / "mkdocs.yml").is_file():
        pytest.skip("not a source checkout (no mkdocs.yml)")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    page = (tmp_path / "site" / "reference" / "kernels" / "index.html").read_text(encoding="utf-8")
    assert "log_softmax_backward" in page  # the docstrings were rendered, not just the page titles
