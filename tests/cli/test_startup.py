"""The CLI starts without the learning stack: torch, PyG and sentence-transformers load per command."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_cli_loads_no_learning_library() -> None:
    code = (
        "import sys, kgrec.cli; "
        "print(','.join(m for m in ('torch', 'torch_geometric', 'sentence_transformers') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == ""
