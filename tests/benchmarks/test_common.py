"""The benchmark library: results files carry their provenance; the server comes from Settings."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import pytest

from bench.common import ROOT, Result, bench_server, merged, write_results


def test_results_file_has_provenance_and_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = ROOT / "bench" / "rating_ml100k.py"
    monkeypatch.setattr(sys, "argv", [str(script), "--max-epochs", "3"])
    path = write_results(
        "smoke",
        "toy",
        [Result("m", "test", "rmse", 0.9)],
        seeds=[1, 2],
        threads=1,
        config={"out": tmp_path},
        out_dir=tmp_path,
    )
    payload = json.loads(path.read_text())
    assert path == tmp_path / "smoke.json"
    assert payload["script_sha"] == hashlib.sha256(script.read_bytes()).hexdigest()
    assert payload["command"] == "python -m bench.rating_ml100k --max-epochs 3"
    assert payload["seeds"] == [1, 2] and payload["threads"] == 1 and payload["device"] == "cpu"
    assert payload["config"] == {"out": str(tmp_path)} and payload["commit"]
    assert {"torch", "torch-geometric", "python"} <= set(payload["versions"])
    assert payload["results"] == [{"model": "m", "split": "test", "metric": "rmse", "value": 0.9}]
    kept = merged([Result("new", "test", "x", 1.0)], ["m2"], path)
    assert [r.model for r in kept] == ["m", "new"]
    assert merged([], ["m"], path) == []


def test_bench_server_ports_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGREC_BENCH_BOLT_PORT", "7999")
    assert bench_server().config.bolt_port == 7999
    for script in (ROOT / "bench").rglob("*.py"):
        text = script.read_text()
        assert not re.search(r"\b7[0-9]{3}\b", text.replace("7999", "")), f"a literal port in {script}"
        assert "sys.path" not in text, script
