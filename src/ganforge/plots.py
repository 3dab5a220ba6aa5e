"""Plots drawn from a run directory alone (matplotlib, Agg backend): the loss and D-score curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .files import atomic_write
from .runlog import read_jsonl

SCORE_KEYS = ("d_real", "d_fake", "d_a_real", "d_a_fake", "d_b_real", "d_b_fake")
SCORE_NAMES = {"d_real": "D(x) real score", "d_fake": "D(G(z)) fake score", "d_a_real": "D_A(real A)",
               "d_a_fake": "D_A(fake A)", "d_b_real": "D_B(real B)", "d_b_fake": "D_B(fake B)"}


def plot_losses(run_dir: Path, out: Path | None = None) -> Path | None:
    """``losses.png`` (written atomically): the figure of :func:`loss_figure`."""
    fig = loss_figure(run_dir)
    if fig is None:
        return None
    import matplotlib.pyplot as plt

    out = out or run_dir / "losses.png"
    try:
        atomic_write(out, lambda f: fig.savefig(f, format="png", dpi=100))
    finally:
        plt.close(fig)
    return out


def loss_figure(run_dir: Path) -> Any:
    """Every ``loss_*`` series on top, the discriminator's real/fake scores below (None without metrics)."""
    rows = read_jsonl(run_dir / "metrics.jsonl")
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    loss_keys = sorted({k for r in rows for k in r if k.startswith("loss_")})
    score_keys = [k for k in SCORE_KEYS if any(k in r for r in rows)]
    fig, axes = plt.subplots(2 if score_keys else 1, 1, figsize=(8, 6 if score_keys else 3.5), sharex=True,
                             squeeze=False)
    for k in loss_keys:
        pts = [(r["step"], r[k]) for r in rows if k in r]
        axes[0, 0].plot(*zip(*pts), label=k)
    means = [abs(sum(v) / len(v)) for k in loss_keys if (v := [r[k] for r in rows if k in r])]
    if means and min(means) > 0 and max(means) / min(means) > 30:  # e.g. pix2pix's L1 x 100 next to the GAN terms
        axes[0, 0].set_yscale("symlog", linthresh=min(means) / 10)
    axes[0, 0].set_ylabel("loss")
    axes[0, 0].legend(loc="upper right")
    axes[0, 0].grid(alpha=0.3)
    if score_keys:
        for k in score_keys:
            pts = [(r["step"], r[k]) for r in rows if k in r]
            axes[1, 0].plot(*zip(*pts), label=SCORE_NAMES[k])
        axes[1, 0].set_ylim(0, 1)
        axes[1, 0].set_ylabel("probability")
        axes[1, 0].legend(loc="upper right")
        axes[1, 0].grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    return fig
