"""A small, deterministic training run for the resume tests (``python -m tests.reliability.train_job``).

Two communities of users and products; LightGCN on CPU with one thread, so an interrupted run
resumed from its training state can be compared bit for bit with an uninterrupted one.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from kgrec.gnn.contract import Interactions, LinkSplit, TrainBatch
from kgrec.gnn.models.lightgcn import LightGCNConfig, LightGCNRec
from kgrec.gnn.train import TrainConfig, TrainResult, set_seed, train_model

CONFIG = TrainConfig(
    epochs=8, batch_size=16, lr=0.05, k=2, num_negatives=2, patience=100, progress=False, device="cpu", threads=1
)


def community_split(users: int = 24, items: int = 12) -> LinkSplit:
    pairs = [(u, i) for u in range(users) for i in range(items) if (i < items // 2) == (u < users // 2)]
    ei = torch.tensor(pairs).t()
    valid = torch.arange(ei.size(1)) % 5 == 0
    return LinkSplit(
        Interactions(users, items, ei[:, ~valid]),
        Interactions(users, items, ei[:, valid]),
        Interactions(users, items, ei[:, :0]),
    )


def fresh_model(split: LinkSplit) -> LightGCNRec:
    set_seed(CONFIG.seed)
    model = LightGCNRec(split.train.num_users, split.train.num_items, LightGCNConfig(embedding_dim=8, num_layers=2))
    model.fit(split.train)
    return model


def train(state: Path | None, resume: bool = False, step_sleep: float = 0.0) -> tuple[LightGCNRec, TrainResult]:
    """Train the community model (sleeping ``step_sleep`` per step so a test can interrupt it)."""
    split = community_split()
    model = fresh_model(split)
    if step_sleep:
        inner = model.loss

        def slow_loss(batch: TrainBatch) -> torch.Tensor:
            time.sleep(step_sleep)
            return inner(batch)

        model.loss = slow_loss  # type: ignore[method-assign]
    config = replace(CONFIG, state_path=str(state) if state else None, resume=resume)
    return model, train_model(model, split, config)


if __name__ == "__main__":  # python -m tests.reliability.train_job STATE_PATH
    train(Path(sys.argv[1]), resume=False, step_sleep=0.1)


def killed_and_resumed(state: Path, kill_after_epoch: int = 3) -> tuple[bool, int]:
    """Run the job in a child, SIGKILL it after ``kill_after_epoch`` epochs, resume here; compare with an
    uninterrupted run. Returns (identical weights, the epoch it was killed after)."""
    import os
    import signal
    import subprocess

    from kgrec.gnn.train import load_training_state

    reference, _ = train(None)
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.train_job", str(state)], cwd=root, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and child.poll() is None:
            if state.exists() and load_training_state(state)["epoch"] >= kill_after_epoch:
                break
            time.sleep(0.2)
        if child.poll() is not None:
            raise RuntimeError("the training child finished before it could be killed")
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    killed_at = int(load_training_state(state)["epoch"])
    resumed, _ = train(state, resume=True)
    a, b = resumed.state_dict(), reference.state_dict()
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), killed_at
