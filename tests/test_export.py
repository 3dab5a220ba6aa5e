"""ganforge export: ONNX (checked with onnxruntime), TorchScript and safetensors give the Python API's outputs, for
every model kind; the model card; bad inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import ganforge
from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.export import export

ort = pytest.importorskip("onnxruntime")


def test_onnx_generators_equal_the_api(kind_runs: dict[str, Path], tmp_path: Path) -> None:
    for kind in ("generator", "conditional"):
        out = tmp_path / kind
        assert main(["export", str(kind_runs[kind]), "--format", "onnx", "--out", str(out)]) == 0
        m = ganforge.load(kind_runs[kind])
        s = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
        names = [i.name for i in s.get_inputs()]
        z = torch.randn(5, 8)
        if kind == "generator":
            assert names == ["z"]
            got, want = s.run(None, {"z": z.numpy()})[0], m.generate(z=z)
        else:
            assert names == ["z", "label"]
            y = torch.tensor([0, 1, 2, 3, 4])
            got, want = s.run(None, {"z": z.numpy(), "label": y.numpy()})[0], m.generate(z=z, labels=y)
        assert [o.name for o in s.get_outputs()] == ["image"]
        assert got.shape == (5, 3, 16, 16) and np.abs(got - want.numpy()).max() < 1e-4
        card = (out / "README.md").read_text()
        assert "checked against PyTorch" in card and "`z`: float32 (N, 8)" in card and "ganforge export" in card


def test_onnx_translators_any_size(kind_runs: dict[str, Path], tmp_path: Path) -> None:
    p2p = export(str(kind_runs["pix2pix"]), "onnx", str(tmp_path / "p2p"))
    assert p2p.dynamic == "batch, height, width" and p2p.max_abs_diff < 1e-4 and p2p.files == ["model.onnx", "README.md"]
    m = ganforge.load(kind_runs["pix2pix"])
    s = ort.InferenceSession(str(tmp_path / "p2p" / "model.onnx"), providers=["CPUExecutionProvider"])
    x = torch.rand(2, 1, 128, 192) * 2 - 1  # not the training size (64)
    got = s.run(None, {"image": x.numpy()})[0]
    assert got.shape == (2, 3, 128, 192)
    assert np.abs(got - m.translate(x, fit="pad", dropout=False).numpy()).max() < 1e-4
    cyc = export(str(kind_runs["cyclegan"]), "onnx", str(tmp_path / "cyc"))
    assert cyc.files[:2] == ["AtoB.onnx", "BtoA.onnx"]
    m = ganforge.load(kind_runs["cyclegan"])
    x = torch.rand(3, 3, 20, 28) * 2 - 1
    for d in ("AtoB", "BtoA"):
        s = ort.InferenceSession(str(tmp_path / "cyc" / f"{d}.onnx"), providers=["CPUExecutionProvider"])
        got = s.run(None, {"image": x.numpy()})[0]
        assert np.abs(got - m.translate(x, d, fit="pad").numpy()).max() < 1e-4


def test_batchnorm_exports_in_inference_mode(kind_runs: dict[str, Path], tmp_path: Path) -> None:
    """A sample does not depend on what else is in the batch (no training-mode BatchNorm in the graph)."""
    export(str(kind_runs["generator"]), "torchscript", str(tmp_path / "ts"))
    net = torch.jit.load(str(tmp_path / "ts" / "model.pt"))
    z = torch.randn(6, 8)
    with torch.no_grad():
        together, alone = net(z), torch.cat([net(z[i:i + 1]) for i in range(6)])
    assert torch.allclose(together, alone, atol=1e-5)
    assert torch.allclose(together, ganforge.load(kind_runs["generator"]).generate(z=z), atol=1e-5)


def test_torchscript_every_kind(kind_runs: dict[str, Path], tmp_path: Path) -> None:
    for kind in ("conditional", "pix2pix", "cyclegan"):
        r = export(str(kind_runs[kind]), "torchscript", str(tmp_path / kind))
        assert r.max_abs_diff < 1e-4 and all((tmp_path / kind / f).is_file() for f in r.files)
    net = torch.jit.load(str(tmp_path / "cyclegan" / "BtoA.pt"))
    x = torch.rand(1, 3, 24, 24) * 2 - 1
    want = ganforge.load(kind_runs["cyclegan"]).translate(x, "BtoA", fit="pad")
    with torch.no_grad():
        assert torch.allclose(net(x), want, atol=1e-5)


def test_safetensors_folder_loads_back_without_pickle(kind_runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "st"
    assert main(["export", str(kind_runs["conditional"]), "--format", "safetensors", "--out", str(out)]) == 0
    raw = (out / "model.safetensors").read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])  # the format: a JSON header, then raw tensors
    nets = json.loads((out / "config.json").read_text())["nets"]
    assert header["__metadata__"]["recipe"] == "cdcgan" and nets == ["g_ema"]  # the EMA generator, not D
    assert {k.split(".")[0] for k in header if k != "__metadata__"} == {"g_ema"}
    m, back = ganforge.load(kind_runs["conditional"]), ganforge.load(out)
    assert back.kind == "conditional" and back.classes == m.classes and back.step == 4
    assert torch.equal(m.generate(6, seed=2), back.generate(6, seed=2))
    # the commands take the folder like a run: sample from it, export it again
    assert main(["sample", str(out), "--n", "4", "--out", str(tmp_path / "g.png")]) == 0
    assert main(["export", str(out), "--format", "torchscript", "--out", str(tmp_path / "again")]) == 0
    cyc = export(str(kind_runs["cyclegan"]), "safetensors", str(tmp_path / "cyc"))
    assert json.loads((tmp_path / "cyc" / "config.json").read_text())["nets"] == ["g_ab", "g_ba"] and cyc.max_abs_diff == 0


def test_damaged_exports_and_bad_arguments(kind_runs: dict[str, Path], tmp_path: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "st"
    export(str(kind_runs["generator"]), "safetensors", str(out))
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    (bad / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(GanforgeError, match="not a safetensors file"):
        ganforge.load(bad)
    (bad / "config.json").write_text("{not json")
    with pytest.raises(GanforgeError, match="cannot be read as JSON"):
        ganforge.load(bad)
    shutil.copy(out / "model.safetensors", bad / "model.safetensors")
    cfg = json.loads((out / "config.json").read_text())
    cfg["config"]["model"]["g_width"] = 8  # the weights no longer fit
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(GanforgeError, match="does not fit network 'g_ema'"):
        ganforge.load(bad)
    assert main(["export", str(kind_runs["generator"]), "--format", "pickle", "--out", str(tmp_path / "x")]) == 2
    assert "invalid choice: 'pickle'" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["export", str(kind_runs["generator"]), "--format", "onnx", "--out", str(tmp_path / "file")]) == 2
    assert "is a file" in capsys.readouterr().err
