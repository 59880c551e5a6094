"""Hostile-input tests: run code in a child process under a memory limit.

An allocation that grows with a number read from a hostile file must fail the test with a clear
verdict, never take the machine down. :func:`run_limited` runs a snippet of Python in a fresh
interpreter whose address space is capped (``resource.setrlimit(RLIMIT_AS)``) a fixed budget above
what the interpreter uses once softmaxkit, NumPy and numba are imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass

import pytest

#: Extra address space the snippet may use beyond the imports, in MiB.
DEFAULT_BUDGET_MB = 512

_PRELUDE = """
import json, resource, sys, traceback
import numpy as np
import softmaxkit, softmaxkit.nn, softmaxkit.datasets, softmaxkit.calibration, softmaxkit.cli

def _vm_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0

_limit = _vm_bytes() + {budget} * 2**20
resource.setrlimit(resource.RLIMIT_AS, (_limit, _limit))
_result = {{"outcome": "ok", "type": None, "message": None}}
try:
{body}
except BaseException as exc:
    # A MemoryError anywhere in the chain means the code allocated what the input claimed, even if it
    # then wrapped the failure in a clean-looking error.
    _cause, _memory = exc, False
    while _cause is not None:
        _memory = _memory or isinstance(_cause, MemoryError)
        _cause = _cause.__cause__ or _cause.__context__
    _result = {{"outcome": "memory" if _memory else "raised", "type": type(exc).__name__, "message": str(exc),
               "traceback": traceback.format_exc()}}
print("@@RESULT@@" + json.dumps(_result))
"""


@dataclass
class Limited:
    """What a limited run did: ``outcome`` is "ok", "raised" (an exception with no MemoryError in its
    chain of causes) or "memory" (a MemoryError, raised or wrapped)."""

    outcome: str
    type: str | None
    message: str | None
    stdout: str
    stderr: str
    returncode: int

    def raised(self, *types: str) -> bool:
        return self.outcome == "raised" and (not types or self.type in types)


def run_limited(code: str, *, budget_mb: int = DEFAULT_BUDGET_MB, timeout: float = 120, cwd=None) -> Limited:
    """Run ``code`` (statements, may use ``np`` and ``softmaxkit``) in a child with capped memory.

    An exception is reported, not re-raised: check ``.outcome``, ``.type`` and ``.message``. A child
    that dies (killed, crashed) has outcome ``"died"``.
    """
    body = textwrap.indent(textwrap.dedent(code).strip() or "pass", "    ")
    script = _PRELUDE.format(budget=int(budget_mb), body=body)
    env = {**os.environ, "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env
    )
    marker = [line for line in proc.stdout.splitlines() if line.startswith("@@RESULT@@")]
    if not marker:
        return Limited("died", None, None, proc.stdout, proc.stderr, proc.returncode)
    result = json.loads(marker[-1][len("@@RESULT@@") :])
    return Limited(result["outcome"], result["type"], result["message"], proc.stdout, proc.stderr, proc.returncode)


@pytest.fixture
def limited():
    """The :func:`run_limited` helper as a fixture."""
    return run_limited
