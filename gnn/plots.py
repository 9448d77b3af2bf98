"""Training curves as a PNG (matplotlib, Agg backend) and a markdown metrics table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kgrec.gnn.train import TrainResult


def plot_history(result: TrainResult, path: str | Path) -> Path:
    """Loss and the validation metric per epoch, best epoch marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [s.epoch for s in result.history]
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax_loss.plot(epochs, [s.loss for s in result.history], marker=".")
    ax_loss.set(title=f"{result.model_name}: training loss", xlabel="epoch", ylabel="loss")
    values = [s.valid.get(result.metric, float("nan")) for s in result.history]
    ax_metric.plot(epochs, values, marker=".", color="tab:green")
    if result.best_epoch:
        ax_metric.axvline(result.best_epoch, color="grey", linestyle="--", label=f"best epoch {result.best_epoch}")
        ax_metric.legend()
    ax_metric.set(title=f"validation {result.metric}", xlabel="epoch", ylabel=result.metric)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def history_table(result: TrainResult) -> str:
    """A markdown table: epoch, loss, validation metrics, seconds."""
    names = sorted({n for s in result.history for n in s.valid})
    lines = ["| epoch | loss | " + " | ".join(names) + " | seconds |", "|---" * (len(names) + 3) + "|"]
    for s in result.history:
        best = " *" if s.epoch == result.best_epoch else ""
        vals = " | ".join(f"{s.valid.get(n, float('nan')):.4f}" for n in names)
        lines.append(f"| {s.epoch}{best} | {s.loss:.4f} | {vals} | {s.seconds:.1f} |")
    return "\n".join(lines)
