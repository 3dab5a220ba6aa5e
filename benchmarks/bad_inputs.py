"""Try many bad inputs through the ``ganforge`` command and say how each ended.

    python benchmarks/bad_inputs.py [--verbose]

Each case runs ``ganforge.cli.main`` in this process on files the script writes into a temporary folder (two tiny
trained runs, image folders, damaged files). A case ends as ``error`` (exit code 2 with exactly one
``ganforge: error:`` line), ``warning`` (exit 0 with one ``ganforge: warning:`` line naming the problem), ``ok``,
or ``TRACEBACK`` / ``other`` (a bug: anything else). The script exits 1 when a case ends as neither of the
first three. It is the census behind the "Safety and failure" section of the README; the tests in
tests/test_safety_*.py check each kind of case one by one.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import pickle
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge.cli import main

TINY = ["model.latent_dim=8", "model.g_width=4", "model.d_width=4", "data.image_size=16", "train.batch_size=8",
        "train.log_every=2", "train.progress=false", "train.tensorboard=false", "train.epochs=1"]
P2P = ["recipe=pix2pix", "model.generator=unet_32", "model.g_width=4", "model.d_width=4", "data.image_size=32",
       "data.load_size=36", "train.progress=false", "train.tensorboard=false", "train.epochs=1", "optim.decay_epochs=0",
       "data.val_split=none"]


def images(folder: Path, n: int, size: int = 20, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"img_{i:03d}.png")
    return folder


def bomb(path: Path) -> Path:
    import struct
    import zlib

    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, format="PNG")
    raw = bytearray(buf.getvalue())
    i = raw.index(b"IHDR")
    raw[i + 4 : i + 12] = struct.pack(">II", 30000, 30000)
    raw[i + 17 : i + 21] = struct.pack(">I", zlib.crc32(bytes(raw[i : i + 17])))
    path.write_bytes(bytes(raw))
    return path


class Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple:
        return (open, (self.marker, "w"))


def run(argv: list[str]) -> tuple[str, str]:
    import warnings

    warnings.resetwarnings()
    warnings.simplefilter("always")  # as in a fresh process: every warning shows
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code
        except BaseException:  # noqa: BLE001 - the census counts these
            traceback.print_exc(file=err)
            return "TRACEBACK", err.getvalue().strip().splitlines()[-1]
    lines = [line for line in err.getvalue().splitlines() if line.startswith("ganforge: ")]
    errors = [line for line in lines if line.startswith("ganforge: error:")]
    warns = [line for line in lines if line.startswith("ganforge: warning:")]
    if code == 2 and len(errors) == 1:
        return "error", errors[0]
    if code == 0 and warns:
        return "warning", warns[0]
    if code == 0:
        return "ok", ""
    return "other", f"exit {code}: {err.getvalue().strip()[-300:]}"


def cases(t: Path) -> list[tuple[str, list[str]]]:
    imgs = images(t / "imgs", 16)
    assert main(["train", "--data", str(imgs), "--out", str(t / "run"), *TINY]) == 0
    pairs = t / "pairs"
    pairs.mkdir()
    rng = np.random.default_rng(1)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (40, 80, 3), dtype=np.uint8)).save(pairs / f"{i:03d}.png")
    assert main(["train", "--data", str(pairs), "--out", str(t / "p2p"), *P2P]) == 0
    r, p = str(t / "run"), str(t / "p2p")
    afile = t / "afile"
    afile.write_text("x")
    # damaged data
    (bombs := images(t / "bombs", 16)) and bomb(bombs / "bomb.png")
    (dangling := images(t / "dangling", 16)) and (dangling / "gone.png").symlink_to(t / "nowhere.png")
    (loop := images(t / "loop", 16)) and (loop / "self").symlink_to(loop)
    corrupt = images(t / "corrupt", 16)
    (corrupt / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    allbad = t / "allbad"
    allbad.mkdir()
    (allbad / "a.png").write_bytes(b"junk")
    bomb(allbad / "b.png")
    tiny = images(t / "tiny", 16, size=2)
    cifar = t / "cifar"
    cifar.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (cifar / name).write_bytes(pickle.dumps({b"data": Payload(t / "pwned"), b"labels": []}, protocol=2))
    cifar_list = t / "cifar_list"
    cifar_list.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (cifar_list / name).write_bytes(pickle.dumps([1, 2, 3]))
    mnist_bad = t / "mnist_bad"
    mnist_bad.mkdir()
    (mnist_bad / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 7)
    # damaged configs and checkpoints
    (t / "latin1.yaml").write_bytes(b"train:\n  epochs: 2 # \xe9\n")
    (t / "list.yaml").write_text("- 1\n- 2\n")
    (t / "bad.yaml").write_text("train: {epochs: [\n")
    (t / "bad.toml").write_text("[train\n")
    (t / "c.ini").write_text("[train]\n")
    (t / "zero.pt").write_bytes(b"")
    (t / "random.pt").write_bytes(np.random.default_rng(0).bytes(4096))
    cut = (t / "run" / "last.pt").read_bytes()
    (t / "cut.pt").write_bytes(cut[: len(cut) // 3])
    ck = torch.load(t / "run" / "last.pt", weights_only=True)
    torch.save({k: v for k, v in ck.items() if k != "config"}, t / "noconfig.pt")
    torch.save({k: v for k, v in ck.items() if k != "state"}, t / "nostate.pt")
    torch.save({**ck, "state": {"nets": {"g": {}, "d": {}}}}, t / "wrongstate.pt")
    torch.save({**ck, "config": "dcgan"}, t / "strconfig.pt")
    torch.save({**ck, "recipe": "nosuch"}, t / "norecipe.pt")
    torch.save({**ck, "format_version": 99}, t / "future.pt")
    torch.save([1, 2], t / "list.pt")
    torch.save({"format_version": 1, "recipe": "dcgan", "config": Payload(t / "pwned")}, t / "evil.pt")
    damaged_run = t / "damaged_run"
    import shutil

    shutil.copytree(t / "run", damaged_run)
    (damaged_run / "run.json").write_text("{")
    (damaged_run / "metrics.jsonl").write_bytes(b"\xff\xfe\n{\"step\": 1}\n")
    (damaged_run / "samples" / "epoch_001.png").write_bytes(b"broken")
    (damaged_run / "eval.jsonl").write_text("not json\n")
    shutil.copytree(damaged_run, t / "damaged_run2")  # resume repairs the first copy
    Image.new("RGB", (21, 10)).save(t / "odd.png")
    bad_inputs = t / "bad_inputs"
    images(bad_inputs, 2)
    (bad_inputs / "c.png").write_bytes(b"junk")
    bomb(bad_inputs / "b.png")
    nodata = t / "nodata"
    nodata.mkdir()
    out = ["--out", str(t / "o")]
    return [
        # train: data
        ("data: missing path", ["train", "--data", str(t / "missing"), *out, *TINY]),
        ("data: empty folder", ["train", "--data", str(nodata), *out, *TINY]),
        ("data: empty spec", ["train", "--data", "", *out, *TINY]),
        ("data: a file", ["train", "--data", str(afile), *out, *TINY]),
        ("data: unknown builtin", ["train", "--data", "builtin:nosuch", *out, *TINY]),
        ("data: unknown toy", ["train", "--data", "toy:nosuch", *out, *TINY]),
        ("data: decompression bomb", ["train", "--data", str(bombs), "--out", str(t / "o1"), *TINY]),
        ("data: dangling link", ["train", "--data", str(dangling), "--out", str(t / "o2"), *TINY]),
        ("data: link loop", ["train", "--data", str(loop), "--out", str(t / "o3"), *TINY]),
        ("data: corrupt image", ["train", "--data", str(corrupt), "--out", str(t / "o4"), *TINY]),
        ("data: all unreadable", ["train", "--data", str(allbad), *out, *TINY]),
        ("data: 2x2 images upscaled", ["train", "--data", str(tiny), "--out", str(t / "o5"), *TINY]),
        ("data: CIFAR batch with a payload", ["train", "--data", str(cifar), *out, *TINY]),
        ("data: CIFAR batch holding a list", ["train", "--data", str(cifar_list), *out, *TINY]),
        ("data: truncated IDX", ["train", "--data", str(mnist_bad), *out, *TINY]),
        ("data: mnist split", ["train", "--data", f"mnist:{mnist_bad}", "data.split=val", *out, *TINY]),
        ("data: fewer images than a batch", ["train", "--data", str(imgs), *out, *TINY, "train.batch_size=64"]),
        ("data: limit", ["train", "--data", str(imgs), *out, *TINY, "data.limit=-3"]),
        ("data: resize none, mixed sizes", ["train", "--data", str(tiny), *out, *TINY, "data.resize=none"]),
        # train: settings
        *[(f"setting: {o}", ["train", "--out", str(t / f"s{i}"), *TINY, o]) for i, o in enumerate((
            "optim.lr=nan", "optim.lr=inf", "optim.lr=-1", "optim.lr=abc", "optim.beta1=1.5", "optim.beta2=-0.1",
            f"train.seed={2**64}", "train.seed=-1", "train.epochs=0", "train.epochs=1000000000",
            "train.steps=99999999999", "train.batch_size=0", "train.batch_size=1.5", "train.device=foo",
            "train.device=cuda", "train.device=cuda:7", "train.precision=fp8", "train.precision=fp16",
            "train.channels_last=maybe", "data.image_size=0", "data.image_size=-8", "data.channels=2",
            "data.load_size=4", "data.resize=crop", "data.builtin_n=0", "model.latent_dim=0", "model.g_width=-1",
            "model.loss=nosuch", "model.ema=1e999", "model.ema=2", "eval.every=-1", "eval.metrics=fid,xyz",
            "recipe=nosuch", "train.epoch=1", "nosuch=1", "train=5", "model.gp=nan", "data.split=", "name.x=1",
            "train.keep_checkpoints=-1", "optim.decay_epochs=9", "train.log_every=0"))],
        ("setting: preset for another recipe", ["train", "--preset", "dcgan-mnist", "recipe=mlp", *out]),
        ("setting: unknown preset", ["train", "--preset", "nosuch", *out]),
        ("setting: preset without data", ["train", "--preset", "dcgan-folder", *out]),
        ("config: missing", ["train", "--config", str(t / "none.yaml"), *out]),
        ("config: a folder", ["train", "--config", str(t), *out]),
        ("config: not UTF-8", ["train", "--config", str(t / "latin1.yaml"), *out]),
        ("config: a list", ["train", "--config", str(t / "list.yaml"), *out]),
        ("config: bad YAML", ["train", "--config", str(t / "bad.yaml"), *out]),
        ("config: bad TOML", ["train", "--config", str(t / "bad.toml"), *out]),
        ("config: other suffix", ["train", "--config", str(t / "c.ini"), *out]),
        ("command: unknown option", ["train", "--bogus"]),
        ("command: unknown command", ["nosuch"]),
        ("command: no command", []),
        ("command: bad override", ["train", *out, "train.epochs"]),
        ("command: bad override key", ["train", *out, "train..epochs=2"]),
        # train: outputs and runs
        ("out: under a file", ["train", "--data", str(imgs), "--out", str(afile / "run"), *TINY]),
        ("out: on /proc", ["train", "--data", str(imgs), "--out", "/proc/ganforge-census", *TINY]),
        ("out: a file", ["train", "--data", str(imgs), "--out", str(afile), *TINY]),
        ("out: holds a run", ["train", "--data", str(imgs), "--out", r, *TINY]),
        ("init: another recipe", ["train", "--data", str(imgs), *out, "--init", p, *TINY]),
        ("init: wrong networks", ["train", "--data", str(imgs), "--out", str(t / "o6"), "--init",
                                  str(t / "wrongstate.pt"), *TINY]),
        ("init: missing", ["train", "--data", str(imgs), *out, "--init", str(t / "none.pt"), *TINY]),
        # resume
        ("resume: missing", ["resume", str(t / "none")]),
        ("resume: a file", ["resume", str(afile)]),
        ("resume: not a run", ["resume", str(nodata)]),
        ("resume: changes the run", ["resume", r, "optim.lr=0.1"]),
        ("resume: unknown key", ["resume", r, "train.nosuch=1"]),
        ("resume: bad value", ["resume", r, "train.epochs=abc"]),
        ("resume: damaged run.json and metrics", ["resume", str(damaged_run), "train.epochs=2"]),
        # sample
        *[(f"sample: {what}", ["sample", src, "--out", str(t / "g.png")]) for what, src in (
            ("missing", str(t / "none")), ("zero-byte", str(t / "zero.pt")), ("random bytes", str(t / "random.pt")),
            ("cut short", str(t / "cut.pt")), ("no config", str(t / "noconfig.pt")), ("no state", str(t / "nostate.pt")),
            ("wrong networks", str(t / "wrongstate.pt")), ("config a string", str(t / "strconfig.pt")),
            ("unknown recipe", str(t / "norecipe.pt")), ("newer format", str(t / "future.pt")),
            ("a list", str(t / "list.pt")), ("pickled payload", str(t / "evil.pt")), ("a translator", p),
            ("a folder without last.pt", str(nodata)))],
        *[(f"sample: {' '.join(a)}", ["sample", r, "--out", str(t / "g.png"), *a]) for a in (
            ["--n", "100000000"], ["--n", "0"], ["--n", "-5"], ["--n", "x"], ["--nrow", "0"], ["--nrow", "-1"],
            ["--seed", "abc"], ["--seed", str(2**70)], ["--seed", "-1"], ["--device", "foo"], ["--device", "cuda"],
            ["--device", "mps"], ["--class", "3"])],
        ("sample: --out .jpg", ["sample", r, "--out", str(t / "g.jpg")]),
        ("sample: --out under a file", ["sample", r, "--out", str(afile / "g.png")]),
        ("sample: --out a file as folder", ["sample", r, "--out", str(afile) + "/"]),
        ("sample: --out on /proc", ["sample", r, "--out", "/proc/ganforge.png"]),
        # translate and interpolate
        ("translate: a generator", ["translate", r, "--input", str(imgs), "--out", str(t / "tr")]),
        ("translate: missing input", ["translate", p, "--input", str(t / "none"), "--out", str(t / "tr")]),
        ("translate: a non-image file", ["translate", p, "--input", str(afile), "--out", str(t / "tr")]),
        ("translate: corrupt and bomb among inputs", ["translate", p, "--input", str(bad_inputs), "--out", str(t / "tr")]),
        ("translate: only unreadable inputs", ["translate", p, "--input", str(allbad), "--out", str(t / "tr2")]),
        ("translate: untrained direction", ["translate", p, "--input", str(imgs), "--out", str(t / "tr3"),
                                            "--direction", "BtoA"]),
        ("translate: --out a file", ["translate", p, "--input", str(imgs), "--out", str(afile)]),
        ("translate: --aligned odd width", ["translate", p, "--input", str(t / "odd.png"), "--out",
                                            str(t / "tr4"), "--aligned"]),
        ("interpolate: one seed", ["interpolate", r, "--seeds", "1", "--out", str(t / "s.png")]),
        ("interpolate: bad seeds", ["interpolate", r, "--seeds", "a,b", "--out", str(t / "s.png")]),
        ("interpolate: --out .jpg", ["interpolate", r, "--seeds", "1,2", "--out", str(t / "s.jpg")]),
        ("interpolate: --video .avi", ["interpolate", r, "--seeds", "1,2", "--out", str(t / "s.png"), "--video",
                                       str(t / "v.avi")]),
        ("interpolate: --fps 0", ["interpolate", r, "--seeds", "1,2", "--out", str(t / "s.png"), "--video",
                                  str(t / "v.gif"), "--fps", "0"]),
        ("interpolate: --steps 0", ["interpolate", r, "--seeds", "1,2", "--steps", "0", "--out", str(t / "s.png")]),
        ("interpolate: --vary class unconditional", ["interpolate", r, "--seeds", "1,2", "--vary", "class", "--out",
                                                     str(t / "s.png")]),
        ("interpolate: a bomb as --input", ["interpolate", p, "--input", str(bad_inputs / "b.png"), "--out",
                                            str(t / "s.png")]),
        # evaluate, classifier
        ("evaluate: missing", ["evaluate", str(t / "none")]),
        ("evaluate: unknown metric", ["evaluate", r, "--metrics", "xyz"]),
        ("evaluate: --n 0", ["evaluate", r, "--n", "0"]),
        ("evaluate: offline inception", ["evaluate", r, "--metrics", "fid"]),
        ("evaluate: classifier missing", ["evaluate", r, "--extractor", f"classifier:{t / 'none.pt'}"]),
        ("evaluate: classifier a checkpoint", ["evaluate", r, "--extractor", f"classifier:{r}/last.pt"]),
        ("evaluate: --fake without --real", ["evaluate", "--fake", str(imgs)]),
        ("evaluate: no best.pt", ["evaluate", r, "--checkpoints", "best"]),
        ("evaluate: weights a random file", ["evaluate", r, "--weights", str(t / "random.pt")]),
        ("classifier: unlabelled data", ["classifier", "train", "--data", str(imgs), "--out", str(t / "c.pt")]),
        ("classifier: --epochs 0", ["classifier", "train", "--data", "builtin:pizza", "--out", str(t / "c.pt"),
                                    "--epochs", "0"]),
        # report, compare, data
        ("report: not a run", ["report", str(nodata)]),
        ("report: damaged files", ["report", str(t / "damaged_run2")]),
        ("report: --out under a file", ["report", r, "--out", str(afile / "r.html")]),
        ("compare: one run", ["compare", r, "--out", str(t / "c.html")]),
        ("compare: not a run", ["compare", r, str(nodata), "--out", str(t / "c.html")]),
        ("compare: --out under a file", ["compare", r, r, "--out", str(afile / "c.html")]),
        ("data fetch: unknown", ["data", "fetch", "nosuch"]),
        ("data fetch: offline", ["data", "fetch", "mnist", "--dest", str(t / "m"), "--mirror", "http://127.0.0.1:9/x"]),
        ("data fetch: --dest a file", ["data", "fetch", "mnist", "--dest", str(afile)]),
        ("bench: unknown recipe", ["bench", "--recipe", "nosuch"]),
        ("bench: bad size", ["bench", "--size", "7"]),
    ]


def main_() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--verbose", action="store_true", help="print every case, not only the failures")
    args = ap.parse_args()
    os.environ.setdefault("GANFORGE_CACHE", tempfile.mkdtemp(prefix="ganforge-census-cache-"))
    with tempfile.TemporaryDirectory() as d:
        t = Path(d)
        with contextlib.redirect_stderr(io.StringIO()):
            todo = cases(t)
        counts: dict[str, int] = {}
        bad = 0
        for label, argv in todo:
            kind, line = run(argv)
            counts[kind] = counts.get(kind, 0) + 1
            if kind in ("TRACEBACK", "other"):
                bad += 1
            if args.verbose or kind in ("TRACEBACK", "other"):
                print(f"{kind:9} {label}: {line}")
        assert not (t / "pwned").exists(), "a payload ran"
    print(f"{len(todo)} bad inputs: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main_())
