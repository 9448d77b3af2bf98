"""Training interrupted (Ctrl-C in process, SIGKILL of a child process) and resumed ends where an
uninterrupted run with the same seed ends; damaged, truncated and foreign state files are refused."""

from __future__ import annotations

import os
import pickle
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from kgrec.gnn.checkpoint import load_checkpoint
from kgrec.gnn.contract import TrainBatch
from kgrec.gnn.train import load_training_state, train_model
from kgrec.kg.errors import ModelError
from tests.reliability import train_job


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_ctrl_c_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    reference, full = train_job.train(tmp_path / "full.state.pt")
    split = train_job.community_split()
    model = train_job.fresh_model(split)
    calls = {"n": 0}
    steps = -(-split.train.num_edges // train_job.CONFIG.batch_size)
    inner = model.loss

    def interrupting(batch: TrainBatch) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == 2 * steps + 1:  # the first step of the third epoch
            raise KeyboardInterrupt
        return inner(batch)

    model.loss = interrupting  # type: ignore[method-assign]
    state = tmp_path / "run.state.pt"
    config = replace(train_job.CONFIG, state_path=str(state))
    with pytest.raises(KeyboardInterrupt):
        train_model(model, split, config)
    assert load_training_state(state)["epoch"] == 2

    resumed, result = train_job.train(state, resume=True)
    assert result.resumed_from == 2 and [h.epoch for h in result.history] == list(range(1, 9))
    assert same_weights(resumed, reference)
    assert [h.loss for h in result.history] == [h.loss for h in full.history]
    assert result.best_epoch == full.best_epoch and result.best_valid == full.best_valid


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    identical, killed_at = train_job.killed_and_resumed(tmp_path / "killed.state.pt")
    assert 3 <= killed_at < train_job.CONFIG.epochs
    assert identical


class Exploit:
    """A pickle that would create a file when unpickled without weights_only."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "foreign", "pickled code", "other run"])
def test_damaged_or_foreign_states_and_checkpoints_are_refused(damage: str, tmp_path: Path) -> None:
    state = tmp_path / "run.state.pt"
    train_job.train(state)
    marker = tmp_path / "pwned"
    if damage == "truncated":
        state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
    elif damage == "random bytes":
        state.write_bytes(os.urandom(4096))
    elif damage == "foreign":
        torch.save({"weights": torch.zeros(3)}, state)
    elif damage == "pickled code":
        state.write_bytes(pickle.dumps({"format": 1, "x": Exploit(marker)}))
    if damage == "other run":
        config = replace(train_job.CONFIG, state_path=str(state), lr=0.5, resume=True)
        split = train_job.community_split()
        with pytest.raises(ModelError, match="saved by another run"):
            train_model(train_job.fresh_model(split), split, config)
        return
    with pytest.raises(ModelError, match=r"not a (readable )?(kgrec )?training state"):
        train_job.train(state, resume=True)
    with pytest.raises(ModelError, match="checkpoint"):
        load_checkpoint(state)
    assert not marker.exists()
