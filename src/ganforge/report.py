"""Self-contained HTML reports built from run directories alone (never from training code).

``build_report(run_dir)`` writes one HTML file with every image embedded (base64 PNG/GIF/MP4) and no network
reference: the run's state (running, finished, stopped) and wall time, run facts, the resolved config, every
curve of ``metrics.jsonl`` (``plots.loss_figure``), the metric over training with the best checkpoint, the
sample grid of every epoch behind a slider, and the interpolation strips or videos found in ``RUN/explore/``,
captioned from the note ``ganforge interpolate`` writes beside each (``NAME.EXT.json``: seeds, mode). Small
images are shown enlarged (nearest neighbour) so that a grid cell is at least 64 px. ``build_comparison(run_dirs)``
puts runs side by side: the config keys that differ (leaving out :data:`COSMETIC` ones, which do not change
what is learned), final and best metrics, the last sample grids, and overlaid curves.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import time
from pathlib import Path
from typing import Any

from .errors import GanforgeError
from .files import atomic_write, read_json
from .runlog import read_jsonl

MIME = {".png": "image/png", ".gif": "image/gif", ".mp4": "video/mp4"}
# Config keys that do not change what is learned (logging, display, housekeeping, loading speed): a comparison
# does not list them among the keys that differ.
COSMETIC = frozenset({"name", "train.progress", "train.report", "train.log_every", "train.tensorboard",
                      "train.keep_checkpoints", "train.n_samples", "data.workers", "data.cache",
                      "data.in_memory_limit_mb"})
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; padding: 0 1em; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; overflow-wrap: anywhere; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { border: 1px solid #ddd; padding: 3px 8px; }
td { overflow-wrap: anywhere; vertical-align: top; } td.num { white-space: nowrap; }
.scroll { overflow-x: auto; max-width: 100%; }
th { background: #f4f4f4; text-align: left; } pre { background: #f7f7f7; padding: 1em; overflow-x: auto; }
img, video { max-width: 100%; height: auto; image-rendering: pixelated; } .best { background: #e8f6e8; font-weight: bold; }
.grid { display: flex; flex-wrap: wrap; gap: 1em; } .grid figure { margin: 0; max-width: 48%; }
figure { margin: 1em 0; } figcaption { font-size: 0.9em; } figcaption code { color: #666; }
.status { font-size: 1.05em; padding: 0.5em 0.8em; border-left: 4px solid #999; background: #f7f7f7; }
.status-running { border-color: #2a7ae2; } .status-finished { border-color: #2e9d45; }
.status-stopped { border-color: #d08a00; } .built { color: #666; font-size: 0.85em; }
"""


def data_uri(path: Path) -> str | None:
    """The file as a data: URI, or None when it cannot be read or an image in it cannot be decoded (a damaged
    file is shown as missing, never embedded as a broken image)."""
    return _embed(path)[0]


def _embed(path: Path) -> tuple[str | None, tuple[int, int] | None]:
    """(:func:`data_uri`, the image's (width, height), None for a video)."""
    mime = MIME.get(path.suffix.lower())
    if mime is None:
        raise GanforgeError(f"cannot embed {path}: {path.suffix} files are not images or videos")
    size = None
    try:
        raw = path.read_bytes()
        if mime.startswith("image/"):
            from PIL import Image

            from .data.images import UNREADABLE

            try:
                with Image.open(io.BytesIO(raw)) as img:
                    img.load()
                    size = img.size
            except UNREADABLE:
                return None, None
    except OSError:
        return None, None
    return f"data:{mime};base64," + base64.b64encode(raw).decode("ascii"), size


def display_width(size: tuple[int, int] | None, cell: int | None, video: bool = False) -> int | None:
    """The width (CSS px) to show a picture at so that small images are enlarged as ``data.images.display_scale``
    enlarges them when written: each ``cell`` px cell of a sample grid or strip (padding 2, written at any integer
    scale) to at least 64 px, a GIF frame to at least 128 px. None: shown as it is (already that big, or not such
    a grid: a scatter plot, a translation strip)."""
    if size is None:
        return None
    from .data.images import DISPLAY_FRAME, display_scale

    w, h = size
    if video:
        f = display_scale(min(w, h), DISPLAY_FRAME, extent=max(w, h))
        return w * f if f > 1 else None
    if not cell:
        return None
    for have in range(display_scale(cell), 0, -1):  # the scale it was written at: the largest that fits
        if w % have or h % have or (w // have - 2) % (cell + 2) or (h // have - 2) % (cell + 2):
            continue
        f = display_scale(cell * have, extent=max(w, h))
        return w * f if f > 1 else None
    return None


def note_path(path: Path) -> Path:
    """The note ``ganforge interpolate`` writes beside a strip or video: ``NAME.EXT.json``."""
    return path.with_name(path.name + ".json")


def _fig_uri(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _media(uri: str | None, alt: str, width: int | None = None) -> str:
    if uri is None:
        return f'<p class=missing>{html.escape(alt)}: missing (the file is damaged or unreadable)</p>'
    if uri.startswith("data:video"):
        return f'<video controls loop muted autoplay playsinline src="{uri}" title="{html.escape(alt)}"></video>'
    return f'<img src="{uri}" alt="{html.escape(alt)}"{f" width={width}" if width else ""}>'


def _table(rows: list[dict[str, Any]], keys: list[str], best: int | None = None) -> str:
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = []
    for i, r in enumerate(rows):
        cells = "".join(f"<td{' class=num' if isinstance(r.get(k), (int, float)) else ''}>{html.escape(_fmt(r.get(k, '')))}"
                        f"</td>" for k in keys)
        body.append(f'<tr{" class=best" if i == best else ""}>{cells}</tr>')
    return f"<div class=scroll><table><tr>{head}</tr>{''.join(body)}</table></div>"


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _write(out: Path, text: str) -> Path:
    return atomic_write(out, text)


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><meta name=viewport "
            f"content=\"width=device-width, initial-scale=1\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{body}</body></html>")


def _cell(run_dir: Path) -> int | None:
    """data.image_size of the run's config.yaml: the side of the cells of its sample grids."""
    import yaml

    try:
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
        size = cfg["data"]["image_size"]
    except (OSError, ValueError, yaml.YAMLError, KeyError, TypeError):
        return None
    return size if isinstance(size, int) and size > 0 else None


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
    embedded = [_embed(p) for p in grids]
    uris = [u for u, _ in embedded]
    cell = _cell(run_dir)
    widths = [display_width(size, cell) for _, size in embedded]
    labels = [_grid_label(p.stem) + (" (missing: damaged file)" if u is None else "") for p, u in zip(grids, uris)]
    uris = [u or "" for u in uris]
    n = len(grids)
    width = f" width={widths[-1]}" if widths[-1] else ""
    return (f"<h2>Samples</h2><p><input type=range id=epoch min=0 max={n - 1} value={n - 1} "
            f"oninput=\"show(this.value)\"> <span id=label>{html.escape(labels[-1])}</span></p>"
            f"<img id=grid src=\"{uris[-1]}\" alt=\"sample grid\"{width}>"
            f"<script>const GRIDS={json.dumps(uris)};const LABELS={json.dumps(labels)};const WIDTHS={json.dumps(widths)};"
            f"function show(i){{const g=document.getElementById('grid');g.src=GRIDS[i];"
            f"if(WIDTHS[i]){{g.width=WIDTHS[i];}}else{{g.removeAttribute('width');}}"
            f"document.getElementById('label').textContent=LABELS[i];}}</script>")


def _grid_label(stem: str) -> str:
    """'epoch_003' -> 'epoch 3'; 'epoch_001_step_000004' (a run stopped inside an epoch) -> 'epoch 1, step 4'."""
    parts = stem.split("_")
    try:
        label = f"epoch {int(parts[1])}"
        return label + (f", step {int(parts[3])}" if len(parts) >= 4 and parts[2] == "step" else "")
    except (IndexError, ValueError):
        return stem


def _explore_section(run_dir: Path) -> str:
    """The strips and videos in RUN/explore/, each captioned from its note (seeds, mode) and its file name."""
    folder = run_dir / "explore"
    files = sorted(p for p in folder.glob("*") if p.suffix.lower() in MIME) if folder.is_dir() else []
    if not files:
        return ""
    cell = _cell(run_dir)
    figures = []
    for p in files:
        uri, size = _embed(p)
        note = read_json(note_path(p), missing={}, damaged={})  # a damaged note (warned): the file name alone
        caption = note.get("caption") if isinstance(note, dict) else None
        width = display_width(size, None if p.suffix.lower() == ".gif" else cell, video=p.suffix.lower() == ".gif")
        text = (f"{html.escape(str(caption))} " if caption else "") + f"<code>{html.escape(p.name)}</code>"
        figures.append(f"<figure>{_media(uri, str(caption or p.name), width)}<figcaption>{text}</figcaption></figure>")
    return "<h2>Exploration</h2>" + "".join(figures)


def _fresh_curves(run_dir: Path) -> str | None:
    """losses.png as a data: URI when it is this version's figure and newer than metrics.jsonl (the trainer draws
    it just before it refreshes the report: drawn once, not twice)."""
    from .plots import CURVES_TAG

    png, metrics = run_dir / "losses.png", run_dir / "metrics.jsonl"
    try:
        if png.stat().st_mtime < metrics.stat().st_mtime:
            return None
        from PIL import Image

        with Image.open(png) as img:
            if img.info.get("ganforge") != CURVES_TAG:
                return None
    except (OSError, ValueError, SyntaxError):
        return None
    return data_uri(png)


def _curves(run_dir: Path) -> str:
    from .plots import loss_figure, panels, series

    curves = series(read_jsonl(run_dir / "metrics.jsonl"))
    if not curves:
        return ""
    uri = _fresh_curves(run_dir)
    if uri is None:
        fig = loss_figure(run_dir)
        if fig is None:
            return ""
        uri = _fig_uri(fig)
    names = [t for t, _ in panels(curves)]
    return (f"<h2>Curves</h2><p>Everything the run logged in metrics.jsonl, against the step; one panel per kind, "
            f"and per scale where sizes differ: {html.escape(', '.join(names))}.</p>"
            f"<img src=\"{uri}\" alt=\"curves: {html.escape(', '.join(names))}\">")


def lock_holder(run_dir: Path) -> dict[str, Any] | None:
    """Who holds the run directory's lock (``runlock``): its record (pid, started, command), ``{}`` when the
    record is unreadable, None when nobody does. Probed with a non-blocking shared ``flock`` on a fresh open file,
    so a lock held by this very process (a trainer refreshing its report) counts too."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: runs are not locked
        return None
    try:
        fd = os.open(run_dir / ".lock", os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            try:
                info = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
            except (OSError, ValueError):
                return {}
            return info if isinstance(info, dict) else {}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def _when(t: Any) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(t))) if isinstance(t, (int, float)) else "?"


def run_status(run_dir: Path, facts: dict[str, Any], rows: list[dict[str, Any]],
               live: bool | None = None) -> tuple[str, str]:
    """(state, sentence): state is running, finished or stopped (or unknown before the first step).

    running: a training process holds the run's lock (``live``; None: probe it); finished: the last step reached
    run.json's total_steps; stopped: neither, with the signal when run.json names one, else the process ended
    without a final word (killed, crashed). The wall time is this session's so far when running (from the lock's
    start time), else run.json's ``wall_seconds``."""
    steps = [r["step"] for r in rows if isinstance(r.get("step"), (int, float))]
    last_step = facts.get("last_step") if isinstance(facts.get("last_step"), int) else 0
    step = int(max(steps + [last_step]))
    total = facts.get("total_steps") if isinstance(facts.get("total_steps"), int) else None
    per_epoch = facts.get("steps_per_epoch") if isinstance(facts.get("steps_per_epoch"), int) else None
    where = f"step {step}" + (f" of {total}" if total else "")
    if per_epoch:
        where += f" (epoch {step / per_epoch:.4g}" + (f" of {total / per_epoch:.4g})" if total else ")")
    holder = lock_holder(run_dir) if live is None else ({} if live else None)
    if holder is not None and str(holder.get("command", "")).split()[1:2] in (["evaluate"], ["report"]):
        holder = None  # an evaluation or a report holds the lock, not a training process
    done = total is not None and step >= total
    if holder is not None:
        start = holder.get("started")
        wall = f"; {_duration(time.time() - start)} so far in this session" if isinstance(start, (int, float)) else ""
        if done:
            return "finished", f"finished: {where}{wall}"
        return "running", f"running: {where}{wall}; reload this page to follow it"
    wall_s = facts.get("wall_seconds")
    wall = f"; wall time {_duration(wall_s)}" if isinstance(wall_s, (int, float)) else ""
    if isinstance(wall_s, (int, float)) and facts.get("resumed_at_step") is not None:
        wall += " (the last session)"
    if done:
        return "finished", f"finished: {where}{wall}"
    if not steps and not last_step:
        return "unknown", "not started: no step logged yet"
    signal = facts.get("status")
    resume = f"; continue with: ganforge resume {run_dir}"
    if signal in ("SIGINT", "SIGTERM"):
        return "stopped", f"stopped by {signal} at {where}{wall}{resume}"
    return "stopped", (f"stopped: the training process ended at {where} without a final word (killed or crashed)"
                       f"{resume}")


def build_report(run_dir: str | Path, out: str | Path | None = None, live: bool | None = None) -> Path:
    """Write the report (default ``RUN/report.html``). ``live``: whether a training process holds the run now
    (None: probe the run's lock; ``ganforge report`` passes False while it holds the lock itself)."""
    run = Path(run_dir)
    if not (run / "config.yaml").is_file():
        raise GanforgeError(f"{str(run)!r} is not a run directory (no config.yaml)")
    facts = read_json(run / "run.json", missing={}, damaged={})  # damaged: a warning names it, no facts shown
    facts = facts if isinstance(facts, dict) else {}
    keys = ["recipe", "data", "images", "val_data", "steps_per_epoch", "total_steps", "started", "device", "torch"]
    rows = read_jsonl(run / "metrics.jsonl")
    state, sentence = run_status(run, facts, rows, live)
    if "started" in facts:
        facts["started"] = _when(facts["started"])
    speeds = [r["images_per_s"] for r in rows if "images_per_s" in r]
    if speeds:
        facts["images_per_s (median)"] = sorted(speeds)[len(speeds) // 2]
        keys.append("images_per_s (median)")
    fact_rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(_fmt(facts[k]))}</td></tr>" for k in keys
                        if facts.get(k) is not None)
    missing = [what for what, present in (
        ("metrics (metrics.jsonl)", bool(rows)), ("sample grids (samples/)", any((run / "samples").glob("epoch_*.png"))),
        ("checkpoints (last.pt)", (run / "last.pt").is_file()), ("evaluations (eval.jsonl: ganforge evaluate)",
                                                                 (run / "eval.jsonl").is_file())) if not present]
    note = f"<p>Not in this run directory yet: {html.escape(', '.join(missing))}.</p>" if missing else ""
    status = (f"<p class=\"status status-{state}\" id=status>{html.escape(sentence)}</p>"
              f"<p class=built>Report built {_when(time.time())} from the run directory.</p>")
    body = [f"<h1>ganforge run: {html.escape(run.name)}</h1>{status}<div class=scroll><table>{fact_rows}</table></div>"
            f"{note}", _curves(run), _eval_section(run), _samples_section(run), _explore_section(run)]
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


def check_runs(run_dirs: list[str | Path]) -> list[Path]:
    """Two or more run directories (each with its config.yaml), as paths."""
    runs = [Path(r) for r in run_dirs]
    if len(runs) < 2:
        raise GanforgeError("compare needs at least two run directories")
    for r in runs:
        if not (r / "config.yaml").is_file():
            raise GanforgeError(f"{str(r)!r} is not a run directory (no config.yaml)")
    return runs


def build_comparison(run_dirs: list[str | Path], out: str | Path) -> Path:
    """The comparison page ``out``: differing config keys (not :data:`COSMETIC` ones), metrics, grids, curves."""
    import yaml

    from .metrics import main_metric

    runs = check_runs(run_dirs)
    cfgs = [_flat(yaml.safe_load((r / "config.yaml").read_text()) or {}) for r in runs]
    keys = sorted({k for c in cfgs for k in c})
    differ_all = [k for k in keys if len({json.dumps(c.get(k), sort_keys=True) for c in cfgs}) > 1]
    differ = [k for k in differ_all if k not in COSMETIC]
    cosmetic = [k for k in differ_all if k in COSMETIC and k != "name"]
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
            uri, size = _embed(last[-1])
            grids.append(f"<figure>{_media(uri, r.name, display_width(size, _cell(r)))}<figcaption>{html.escape(r.name)}, "
                         f"{html.escape(last[-1].stem)}</figcaption></figure>")
    also = (f"<p>Also differ, without changing what is learned (not listed): {html.escape(', '.join(cosmetic))}.</p>"
            if cosmetic else "")
    body = [f"<h1>ganforge comparison of {len(runs)} runs</h1>",
            "<h2>Runs</h2><p>Config keys that differ, final losses, final and best metrics.</p>",
            _table(table_rows, cols), also, _overlay(runs),
            "<h2>Last sample grids</h2><div class=grid>" + "".join(grids) + "</div>"]
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
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False, layout="constrained")
    for ax, key in zip(axes[0], panels):
        for i, r in enumerate(runs):
            rows = evals[r] if key == metric else read_jsonl(r / "metrics.jsonl")
            pts = [(row["epoch"] if key == metric else row["step"], row[key]) for row in rows if key in row]
            ax.plot(*(zip(*pts) if pts else ([], [])), label=r.name, color=f"C{i % 10}",
                    marker="o" if key == metric else None)
        ax.set_title(key)
        ax.set_xlabel("epoch" if key == metric else "step")
        ax.grid(alpha=0.3)
    # one legend for all panels (the same runs, the same colours), below them: it covers no curve
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=min(len(runs), 4), fontsize=8,
               frameon=False)
    return f"<h2>Curves</h2><img src=\"{_fig_uri(fig)}\" alt=\"overlaid curves\">"
