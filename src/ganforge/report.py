"""Self-contained HTML reports built from run directories alone (never from training code).

``build_report(run_dir)`` writes one HTML file with every image embedded (base64 PNG/GIF/MP4) and no network
reference: run facts, the resolved config, loss and real/fake score curves, the metric over training with the
best checkpoint, the sample grid of every epoch behind a slider, and the interpolation strips or videos found
in ``RUN/explore/``. ``build_comparison(run_dirs)`` puts runs side by side: the config keys that differ, final
and best metrics, the last sample grids, and overlaid curves.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from .errors import GanforgeError
from .files import atomic_write, read_json
from .runlog import read_jsonl

MIME = {".png": "image/png", ".gif": "image/gif", ".mp4": "video/mp4"}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { border: 1px solid #ddd; padding: 3px 8px; }
th { background: #f4f4f4; text-align: left; } pre { background: #f7f7f7; padding: 1em; overflow-x: auto; }
img, video { max-width: 100%; image-rendering: pixelated; } .best { background: #e8f6e8; font-weight: bold; }
.grid { display: flex; flex-wrap: wrap; gap: 1em; } .grid figure { margin: 0; max-width: 48%; }
"""


def data_uri(path: Path) -> str | None:
    """The file as a data: URI, or None when it cannot be read or an image in it cannot be decoded (a damaged
    file is shown as missing, never embedded as a broken image)."""
    mime = MIME.get(path.suffix.lower())
    if mime is None:
        raise GanforgeError(f"cannot embed {path}: {path.suffix} files are not images or videos")
    try:
        raw = path.read_bytes()
        if mime.startswith("image/"):
            from PIL import Image

            from .data.images import UNREADABLE

            try:
                with Image.open(io.BytesIO(raw)) as img:
                    img.load()
            except UNREADABLE:
                return None
    except OSError:
        return None
    return f"data:{mime};base64," + base64.b64encode(raw).decode("ascii")


def _fig_uri(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _media(uri: str | None, alt: str) -> str:
    if uri is None:
        return f'<p class=missing>{html.escape(alt)}: missing (the file is damaged or unreadable)</p>'
    if uri.startswith("data:video"):
        return f'<video controls loop muted src="{uri}" title="{html.escape(alt)}"></video>'
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _table(rows: list[dict[str, Any]], keys: list[str], best: int | None = None) -> str:
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = []
    for i, r in enumerate(rows):
        cells = "".join(f"<td>{html.escape(_fmt(r.get(k, '')))}</td>" for k in keys)
        body.append(f'<tr{" class=best" if i == best else ""}>{cells}</tr>')
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _write(out: Path, text: str) -> Path:
    return atomic_write(out, text)


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{body}</body></html>")


# --------------------------------------------------------------------------------------------------
# One run


def _eval_section(run_dir: Path) -> str:
    from .metrics import main_metric

    rows = read_jsonl(run_dir / "eval.jsonl")
    if not rows:
        return ""
    m = main_metric(rows[0])
    keys = ["epoch", "step"] + [k for k in rows[0] if isinstance(rows[0][k], float) and not k.endswith("_std")]
    best = None
    if m is not None:
        vals = [r.get(m[0], float("nan")) for r in rows]
        best = (vals.index(max(vals)) if m[1] else vals.index(min(vals))) if vals else None
    plots = "".join(_media(data_uri(p), p.stem) for p in sorted(run_dir.glob("eval_*.png")))
    proto = html.escape(json.dumps(rows[-1].get("protocol", {}), indent=1))
    return (f"<h2>Evaluation</h2>{plots}{_table(rows, keys, best)}"
            f"<p>Highlighted: the best checkpoint by {html.escape(m[0]) if m else '-'}.</p><pre>{proto}</pre>")


def _samples_section(run_dir: Path) -> str:
    grids = sorted((run_dir / "samples").glob("epoch_*.png"))
    if not grids:
        return ""
    uris = [data_uri(p) for p in grids]
    labels = [f"epoch {int(p.stem.split('_')[1])}" + (" (missing: damaged file)" if u is None else "")
              for p, u in zip(grids, uris)]
    uris = [u or "" for u in uris]
    n = len(grids)
    return (f"<h2>Samples</h2><p><input type=range id=epoch min=0 max={n - 1} value={n - 1} "
            f"oninput=\"show(this.value)\"> <span id=label>{html.escape(labels[-1])}</span></p>"
            f"<img id=grid src=\"{uris[-1]}\" alt=\"sample grid\">"
            f"<script>const GRIDS={json.dumps(uris)};const LABELS={json.dumps(labels)};"
            f"function show(i){{document.getElementById('grid').src=GRIDS[i];"
            f"document.getElementById('label').textContent=LABELS[i];}}</script>")


def _curves(run_dir: Path) -> str:
    from .plots import loss_figure

    fig = loss_figure(run_dir)
    if fig is None:
        return ""
    return f"<h2>Losses and D's real/fake scores</h2><img src=\"{_fig_uri(fig)}\" alt=\"loss curves\">"


def build_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    run = Path(run_dir)
    if not (run / "config.yaml").is_file():
        raise GanforgeError(f"{str(run)!r} is not a run directory (no config.yaml)")
    facts = read_json(run / "run.json", missing={}, damaged={})  # damaged: a warning names it, no facts shown
    facts = facts if isinstance(facts, dict) else {}
    keys = ["recipe", "data", "images", "val_data", "steps_per_epoch", "total_steps", "last_step", "status",
            "wall_seconds", "device", "torch"]
    rows = read_jsonl(run / "metrics.jsonl")
    speeds = [r["images_per_s"] for r in rows if "images_per_s" in r]
    if speeds:
        facts["images_per_s (median)"] = sorted(speeds)[len(speeds) // 2]
        keys.append("images_per_s (median)")
    fact_rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(_fmt(facts[k]))}</td></tr>" for k in keys
                        if facts.get(k) is not None)
    explore = sorted(p for p in (run / "explore").glob("*") if p.suffix.lower() in MIME) if (run / "explore").is_dir() else []
    missing = [what for what, present in (
        ("metrics (metrics.jsonl)", bool(rows)), ("sample grids (samples/)", any((run / "samples").glob("epoch_*.png"))),
        ("checkpoints (last.pt)", (run / "last.pt").is_file()), ("evaluations (eval.jsonl: ganforge evaluate)",
                                                                 (run / "eval.jsonl").is_file())) if not present]
    note = f"<p>Not in this run directory yet: {html.escape(', '.join(missing))}.</p>" if missing else ""
    body = [f"<h1>ganforge run: {html.escape(run.name)}</h1><table>{fact_rows}</table>{note}",
            _curves(run), _eval_section(run), _samples_section(run)]
    if explore:
        body.append("<h2>Exploration</h2>" + "".join(f"<figure>{_media(data_uri(p), p.name)}<figcaption>"
                                                     f"{html.escape(p.name)}</figcaption></figure>" for p in explore))
    config_text = (run / "config.yaml").read_bytes().decode("utf-8", errors="replace")
    body.append(f"<h2>Config</h2><pre>{html.escape(config_text)}</pre>")
    return _write(Path(out) if out else run / "report.html", _page(f"ganforge: {run.name}", "".join(body)))


# --------------------------------------------------------------------------------------------------
# Several runs


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def build_comparison(run_dirs: list[str | Path], out: str | Path) -> Path:
    import yaml

    from .metrics import main_metric

    runs = [Path(r) for r in run_dirs]
    if len(runs) < 2:
        raise GanforgeError("compare needs at least two run directories")
    for r in runs:
        if not (r / "config.yaml").is_file():
            raise GanforgeError(f"{str(r)!r} is not a run directory (no config.yaml)")
    cfgs = [_flat(yaml.safe_load((r / "config.yaml").read_text()) or {}) for r in runs]
    keys = sorted({k for c in cfgs for k in c})
    differ = [k for k in keys if len({json.dumps(c.get(k), sort_keys=True) for c in cfgs}) > 1 and k != "name"]
    table_rows = []
    for r, c in zip(runs, cfgs):
        row: dict[str, Any] = {"run": r.name, **{k: c.get(k, "") for k in differ}}
        metrics = read_jsonl(r / "metrics.jsonl")
        for k in ("loss_d", "loss_g"):
            vals = [m[k] for m in metrics if k in m]
            if vals:
                row[f"final {k}"] = vals[-1]
        evals = read_jsonl(r / "eval.jsonl")
        if evals and (m := main_metric(evals[-1])):
            vals = [e[m[0]] for e in evals if m[0] in e]
            row[f"final {m[0]}"], row[f"best {m[0]}"] = vals[-1], (max(vals) if m[1] else min(vals))
        table_rows.append(row)
    cols = list(dict.fromkeys(k for row in table_rows for k in row))
    grids = []
    for r in runs:
        last = sorted((r / "samples").glob("epoch_*.png"))
        if last:
            grids.append(f"<figure>{_media(data_uri(last[-1]), r.name)}<figcaption>{html.escape(r.name)}, "
                         f"{html.escape(last[-1].stem)}</figcaption></figure>")
    body = [f"<h1>ganforge comparison of {len(runs)} runs</h1>",
            "<h2>Runs</h2><p>Config keys that differ, final losses, final and best metrics.</p>",
            _table(table_rows, cols), _overlay(runs), "<h2>Last sample grids</h2><div class=grid>" + "".join(grids) + "</div>"]
    return _write(Path(out), _page("ganforge comparison", "".join(body)))


def _overlay(runs: list[Path]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .metrics import main_metric

    keys = ["loss_d", "loss_g"]
    evals = {r: read_jsonl(r / "eval.jsonl") for r in runs}
    metric = next((main_metric(e[0])[0] for e in evals.values() if e and main_metric(e[0])), None)
    panels = keys + ([metric] if metric else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
    for ax, key in zip(axes[0], panels):
        for r in runs:
            rows = evals[r] if key == metric else read_jsonl(r / "metrics.jsonl")
            pts = [(row["epoch"] if key == metric else row["step"], row[key]) for row in rows if key in row]
            if pts:
                ax.plot(*zip(*pts), label=r.name, marker="o" if key == metric else None)
        ax.set_title(key)
        ax.set_xlabel("epoch" if key == metric else "step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return f"<h2>Curves</h2><img src=\"{_fig_uri(fig)}\" alt=\"overlaid curves\">"
