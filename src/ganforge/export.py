"""``ganforge export``: a trained model for other runtimes (ONNX, TorchScript) or as plain weights (safetensors).

Every format exports the network inference runs (``Recipe.export_net``: the EMA generator with standing
BatchNorm statistics, or a translator's generator with dropout off and its test-time norm), in eval mode, so
none of the usual export bugs (dropout or BatchNorm left in training mode) can happen. The contract:

==================  ===========================================  ============================================
model               inputs                                       output
==================  ===========================================  ============================================
generator           ``z`` float32 (N, latent_dim)                ``image`` float32 (N, C, H, W) in [-1, 1]
conditional         ``z`` float32 (N, latent_dim), ``label``     ``image`` float32 (N, C, H, W) in [-1, 1]
                    int64 (N,)
translator          ``image`` float32 (N, C_in, H, W) in         ``translation`` float32 (N, C_out, H, W) in
                    [-1, 1]                                      [-1, 1]
==================  ===========================================  ============================================

The batch is dynamic; a translator's height and width too where the network allows it (multiples of its
``size_multiple``), else fixed at the training size. CycleGAN writes one file per direction (``AtoB``,
``BtoA``). Each export is checked when written: the exported model (run by onnxruntime, or loaded back by
``torch.jit.load`` / :func:`ganforge.load`) against the PyTorch model on random inputs, and the largest
difference is printed; more than :data:`TOLERANCE` is an error. The folder gets a README.md model card.
"""

from __future__ import annotations

import json
import shlex
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .api import Model, load
from .sampling import CONFIG, EXPORT_FORMAT, WEIGHTS
from .errors import GanforgeError
from .files import atomic_path, atomic_write, ensure_writable_dir

FORMATS = ("onnx", "torchscript", "safetensors")
OPSET = 18
TOLERANCE = 1e-3  # fp32 on the same CPU agrees to about 1e-6; more means the export is wrong
MAX_SIDE = 4096  # the largest dynamic height/width an exported translator declares


@dataclass
class Exported:
    """What one export wrote and how well it matched PyTorch."""

    format: str
    files: list[str] = field(default_factory=list)
    max_abs_diff: float = 0.0
    checked: list[str] = field(default_factory=list)  # the inputs compared, in words
    dynamic: str = ""  # which axes are dynamic


def _example(model: Model, n: int, seed: int, size: int | None = None, direction: str | None = None) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    if model.kind == "translator":
        s = size or model.image_size
        c = model.recipe.input_channels(direction)
        return (torch.rand(n, c, s, s, generator=g) * 2 - 1,)
    z = torch.randn(n, model.latent_dim, generator=g)
    if model.kind == "conditional":
        return z, torch.randint(0, len(model.classes), (n,), generator=g)
    return (z,)


def _reference(model: Model, inputs: tuple[torch.Tensor, ...], direction: str | None) -> torch.Tensor:
    """What the Python API gives for these inputs: the number the export must match."""
    if model.kind == "translator":
        return model.translate(inputs[0], direction, fit="pad", dropout=False)
    return model.generate(z=inputs[0], labels=inputs[1] if len(inputs) > 1 else None)


def _names(model: Model) -> tuple[list[str], list[str]]:
    if model.kind == "translator":
        return ["image"], ["translation"]
    return (["z", "label"] if model.kind == "conditional" else ["z"]), ["image"]


def _check_sizes(model: Model, dynamic_hw: bool) -> list[int]:
    """Image sides the check runs at: the training size, and another multiple when height/width are dynamic."""
    if model.kind != "translator":
        return [0]
    s = model.image_size
    return [s, s + model.recipe.size_multiple] if dynamic_hw else [s]


def _targets(model: Model) -> list[tuple[str | None, str]]:
    """(direction, file stem) per exported network."""
    if model.kind != "translator":
        return [(None, "model")]
    dirs = model.directions
    return [(d, "model" if len(dirs) == 1 else d) for d in dirs]


def _compare(model: Model, direction: str | None, run: Any, dynamic_hw: bool, report: Exported) -> None:
    for i, size in enumerate(_check_sizes(model, dynamic_hw)):
        for n in (1, 3):
            inputs = _example(model, n, seed=1000 + 10 * i + n, size=size or None, direction=direction)
            diff = float((torch.as_tensor(run(inputs)) - _reference(model, inputs, direction)).abs().max())
            report.max_abs_diff = max(report.max_abs_diff, diff)
            shape = "x".join(map(str, inputs[0].shape))
            report.checked.append(f"{direction + ' ' if direction else ''}{shape}: {diff:.2g}")


# ---------------------------------------------------------------------------------------------------------
def _onnx(model: Model, out: Path, report: Exported) -> None:
    try:
        import onnxruntime as ort
    except ImportError:
        raise GanforgeError("ONNX export is checked with onnxruntime, which is not installed (pip install "
                            "onnxruntime onnxscript)") from None
    inputs_names, output_names = _names(model)
    batch = torch.export.Dim("batch", min=1, max=65536)
    for direction, stem in _targets(model):
        net = model.export_net(direction)
        path = out / f"{stem}.onnx"
        dynamic_hw = model.kind == "translator"
        attempts = [True, False] if dynamic_hw else [False]
        for dyn in attempts:
            if model.kind == "translator":
                m = model.recipe.size_multiple
                side = max(model.image_size, 2 * m)  # an example of at least two multiples: no size-1 specialisation
                example = _example(model, 2, 0, side if dyn else model.image_size, direction)
                axes: dict[int, Any] = {0: batch}
                if dyn:
                    axes[2] = m * torch.export.Dim("h", min=1, max=MAX_SIDE // m)
                    axes[3] = m * torch.export.Dim("w", min=1, max=MAX_SIDE // m)
                shapes: tuple[dict[int, Any], ...] = (axes,)
            else:
                example = _example(model, 2, 0)
                shapes = tuple({0: batch} for _ in example)
            try:
                with atomic_path(path) as tmp, warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    program = torch.onnx.export(net, example, input_names=inputs_names, output_names=output_names,
                                                opset_version=OPSET, dynamo=True, dynamic_shapes=shapes,
                                                external_data=False, verbose=False)
                    program.save(str(tmp), external_data=False)
                dynamic_hw = dyn
                break
            except Exception as e:  # noqa: BLE001 - torch.export's many error types; a last resort follows
                if dyn:
                    continue  # this network's graph depends on its input size: fixed height and width
                raise GanforgeError(f"ONNX export of {model.recipe.cfg.recipe} failed ({type(e).__name__}: "
                                    f"{' '.join(str(e).split())[:200]})") from None
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

        def run(inputs: tuple[torch.Tensor, ...], session: Any = session) -> Any:
            return session.run(None, {k: v.numpy() for k, v in zip(inputs_names, inputs)})[0]

        _compare(model, direction, run, dynamic_hw, report)
        report.files.append(path.name)
        report.dynamic = "batch, height, width" if dynamic_hw else "batch"


def _torchscript(model: Model, out: Path, report: Exported) -> None:
    for direction, stem in _targets(model):
        net = model.export_net(direction)
        path = out / f"{stem}.pt"
        example = _example(model, 2, 0, direction=direction)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit's deprecation and tracer warnings
            traced = torch.jit.trace(net, example, check_trace=False)
            with atomic_path(path) as tmp:
                torch.jit.save(traced, str(tmp))
            loaded = torch.jit.load(str(path))
        dynamic_hw = model.kind == "translator"

        def run(inputs: tuple[torch.Tensor, ...], loaded: Any = loaded) -> torch.Tensor:
            with torch.no_grad():
                return loaded(*inputs)

        _compare(model, direction, run, dynamic_hw, report)
        report.files.append(path.name)
        report.dynamic = "batch, height, width" if dynamic_hw else "batch"


def _safetensors(model: Model, out: Path, report: Exported) -> None:
    from safetensors.torch import save_file

    from .config import to_plain

    r = model.recipe
    tensors = {f"{name}.{k}": v.detach().cpu().contiguous().clone()
               for name in r.sampling_nets for k, v in r.nets[name].state_dict().items()}
    meta = {"ganforge_export": EXPORT_FORMAT, "recipe": r.cfg.recipe, "kind": model.kind, "nets": list(r.sampling_nets),
            "config": r.cfg.to_dict(), "data_info": to_plain(r.data), "step": model.step, "epoch": model.epoch}
    with atomic_path(out / WEIGHTS) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "ganforge", "recipe": r.cfg.recipe})
    atomic_write(out / CONFIG, json.dumps(meta, indent=1) + "\n")
    back = load(out)
    for direction, _ in _targets(model):
        def run(inputs: tuple[torch.Tensor, ...], direction: str | None = direction) -> torch.Tensor:
            return _reference(back, inputs, direction)

        _compare(model, direction, run, model.kind == "translator", report)
    report.files += [WEIGHTS, CONFIG]
    report.dynamic = "any (PyTorch)"


# ---------------------------------------------------------------------------------------------------------
def export(source: str, fmt: str, out: str, device: str = "cpu", command: str | None = None) -> Exported:
    """Export the model at ``source`` (run directory, checkpoint or export folder) as ``fmt`` into ``out``."""
    if fmt not in FORMATS:
        raise GanforgeError(f"--format {fmt!r}; choices: {', '.join(FORMATS)}")
    model = load(source, device)
    if model.kind == "points":
        raise GanforgeError(f"{source} holds a 2-D toy model ({model.recipe.cfg.recipe} on points); export takes "
                            "image models")
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise GanforgeError(f"--out {out!r} is a file; give a folder")
    ensure_writable_dir(folder, "--out folder")
    report = Exported(fmt)
    t0 = time.time()
    if fmt == "onnx":
        _onnx(model, folder, report)
    elif fmt == "torchscript":
        _torchscript(model, folder, report)
    else:
        _safetensors(model, folder, report)
    if report.max_abs_diff > TOLERANCE:
        raise GanforgeError(f"the {fmt} export in {out} differs from PyTorch by {report.max_abs_diff:.3g} (more than "
                            f"{TOLERANCE}); do not use it ({'; '.join(report.checked)})")
    atomic_write(folder / "README.md", model_card(model, source, report, command or _command(source, fmt, out), time.time() - t0))
    report.files.append("README.md")
    return report


def _command(source: str, fmt: str, out: str) -> str:
    return f"ganforge export {shlex.quote(source)} --format {fmt} --out {shlex.quote(out)}"


def _metrics(source: str) -> list[dict[str, Any]]:
    from .eval_log import run_dir_of
    from .runlog import read_jsonl

    run_dir = run_dir_of(Path(source))
    if run_dir is None or not (run_dir / "eval.jsonl").is_file():
        return []
    try:
        return read_jsonl(run_dir / "eval.jsonl")
    except GanforgeError:
        return []


def model_card(model: Model, source: str, report: Exported, command: str, seconds: float) -> str:
    """The export folder's README.md: what the model is, what it was trained on, its scores, how to call it."""
    r = model.recipe
    names_in, names_out = _names(model)
    lines = [f"# {r.cfg.recipe} ({model.kind}), exported by ganforge", "",
             f"- made by: `{command}` from `{source}`",
             f"- recipe: {r.cfg.recipe}; data: `{r.cfg.data.source}` at {model.image_size}x{model.image_size}, "
             f"{model.channels} channel(s)" + (f"; classes: {', '.join(model.classes)}" if model.classes else ""),
             f"- training: step {model.step}, epoch {model.epoch}",
             f"- format: {report.format}; files: {', '.join(report.files)}; dynamic axes: {report.dynamic}",
             f"- checked against PyTorch when written: max |difference| {report.max_abs_diff:.2g} "
             f"({'; '.join(report.checked)}), in {seconds:.1f} s", ""]
    rows = _metrics(source)
    if rows:
        lines += ["## Scores (the run's eval.jsonl)", "", "| step | metric | value |", "|---|---|---|"]
        for row in rows[-5:]:
            for k, v in row.items():
                if isinstance(v, float) and not k.endswith("_std"):
                    lines.append(f"| {row.get('step', '')} | {k} | {v:.4g} |")
        lines.append("")
    lines += ["## Inputs and output", ""]
    if model.kind == "translator":
        lines += [f"- `{names_in[0]}`: float32 (N, {r.input_channels(model.directions[0])}, H, W) in [-1, 1] "
                  f"(pixel / 127.5 - 1); H and W multiples of {r.size_multiple}"
                  + ("" if "height" in report.dynamic or report.format == "safetensors" else
                     f" (this export: exactly {model.image_size}x{model.image_size})"),
                  f"- `{names_out[0]}`: float32 (N, {model.channels}, H, W) in [-1, 1]"]
        if len(model.directions) > 1:
            lines.append(f"- one network per direction: {', '.join(model.directions)}")
        if hasattr(r.cfg.model, "test_dropout") and r.cfg.model.test_dropout:
            lines.append("- dropout is off (deterministic); `ganforge translate` keeps pix2pix's test-time dropout on "
                         "unless `--dropout off`")
    else:
        lines += [f"- `z`: float32 (N, {model.latent_dim}), standard normal"]
        if model.kind == "conditional":
            lines.append(f"- `label`: int64 (N,), 0..{len(model.classes) - 1}")
        lines.append(f"- `{names_out[0]}`: float32 (N, {model.channels}, {model.image_size}, {model.image_size}) in "
                     f"[-1, 1]; pixel = (x + 1) * 127.5")
    lines += ["", "## Use it", "", "```python"]
    first = report.files[0]
    example = (f"np.random.rand(1, {r.input_channels(model.directions[0])}, {model.image_size}, {model.image_size})"
               f".astype('float32') * 2 - 1" if model.kind == "translator" else
               f"np.random.randn(4, {model.latent_dim}).astype('float32')")
    feed = f"{{'{names_in[0]}': x}}" if model.kind != "conditional" else "{'z': x, 'label': np.arange(4) % " \
        f"{len(model.classes or ())}}}"
    if report.format == "onnx":
        lines += ["import numpy as np, onnxruntime as ort", f"session = ort.InferenceSession('{first}')",
                  f"x = {example}", f"out = session.run(None, {feed})[0]"]
    elif report.format == "torchscript":
        lines += ["import numpy as np, torch", f"net = torch.jit.load('{first}')",
                  f"x = {example}", "out = net(torch.from_numpy(x)" + (", torch.arange(4) % "
                  f"{len(model.classes or ())})" if model.kind == "conditional" else ")")]
    else:
        lines += ["import ganforge", "m = ganforge.load('.')  # this folder",
                  ("out = m.translate(image)  # a PIL image or a tensor" if model.kind == "translator"
                   else "out = m.generate(16, seed=0)")]
    lines += ["```", ""]
    return "\n".join(lines)
