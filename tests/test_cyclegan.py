"""CycleGAN: the image pool, cycle and identity losses by hand, one step, unpaired data, resume, the pizza
domains, translate both ways, presets and bad input."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge import presets
from ganforge.cli import main
from ganforge.config import DataConfig
from ganforge.configure import resolve
from ganforge.data.builtin import pizza, pizza_photo
from ganforge.data.loader import Batch
from ganforge.data.unpaired import UnpairedData
from ganforge.errors import GanforgeError
from ganforge.recipes.base import DataInfo
from ganforge.recipes.cyclegan import CycleGAN, CycleGANConfig, ImagePool, cycle_terms

from .test_cli import one_line_error

CPU = torch.device("cpu")
TINY = {"generator": "resnet_6blocks", "g_width": 4, "d_width": 4, "d_layers": 2}


def make(**model: object) -> CycleGAN:
    cfg = resolve([{"recipe": "cyclegan", "model": {**TINY, **model}, "data": {"image_size": 16},
                    "train": {"precision": "fp32"}}])  # the terms are recomputed in fp32 below
    torch.manual_seed(0)
    return CycleGAN(cfg, DataInfo(3, 16), CPU)


def tiny_cli(**extra: object) -> list[str]:
    base = {"recipe": "cyclegan", "model.generator": "resnet_6blocks", "model.g_width": 4, "model.d_width": 4,
            "model.d_layers": 2, "data.image_size": 16, "data.load_size": 20, "train.log_every": 2,
            "train.progress": "false", "train.tensorboard": "false", "train.epochs": 1, "optim.decay_epochs": 0,
            "train.batch_size": 2, "train.n_samples": 2}
    base.update(extra)
    return [f"{k}={v}" for k, v in base.items()]


def write_domain(folder: Path, n: int, colour: tuple[int, int, int], size: int = 20, mode: str = "RGB") -> None:
    rng = np.random.default_rng(sum(colour))
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = np.clip(np.array(colour) + rng.normal(0, 20, (size, size, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).convert(mode).save(folder / f"{i:03d}.png")


def test_image_pool_fills_then_swaps_half_the_time() -> None:
    torch.manual_seed(0)
    pool = ImagePool(4)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first) and len(pool.images) == 4  # filling: returns what it stores
    returned_old, n = 0, 2000
    for i in range(n):
        new = torch.full((1, 1, 1, 1), 100.0 + i)
        out = pool.query(new)
        returned_old += int(float(out) != 100.0 + i)
        assert len(pool.images) == 4  # never more than its size
    assert 0.45 < returned_old / n < 0.55  # a stored image with probability 1/2
    assert torch.equal(ImagePool(0).query(first), first)
    # the pool survives a state round trip
    other = ImagePool(4)
    other.load(pool.state(), CPU)
    assert torch.equal(other.state(), pool.state())


def test_cycle_and_identity_losses_by_hand() -> None:
    """Generators replaced by known maps: G_AB(x) = x + 0.1, G_BA(x) = x - 0.3."""
    m = CycleGANConfig(lambda_a=10.0, lambda_b=5.0, lambda_identity=0.5)
    a, b = torch.full((1, 3, 4, 4), 0.2), torch.full((1, 3, 4, 4), -0.1)

    def g_ab(x: torch.Tensor) -> torch.Tensor:
        return x + 0.1

    def g_ba(x: torch.Tensor) -> torch.Tensor:
        return x - 0.3

    t = cycle_terms(g_ab, g_ba, a, b, g_ba(b), g_ab(a), m)
    assert float(t["loss_cycle_a"]) == pytest.approx(10.0 * 0.2)  # 0.2 + 0.1 - 0.3 = 0.0, 0.2 away from a
    assert float(t["loss_cycle_b"]) == pytest.approx(5.0 * 0.2)  # -0.1 - 0.3 + 0.1 = -0.3, 0.2 away from b
    assert float(t["loss_idt_a"]) == pytest.approx(10.0 * 0.5 * 0.3)  # G_BA moves A images by 0.3
    assert float(t["loss_idt_b"]) == pytest.approx(5.0 * 0.5 * 0.1)  # G_AB moves B images by 0.1
    assert set(cycle_terms(g_ab, g_ba, a, b, g_ba(b), g_ab(a), CycleGANConfig(lambda_identity=0.0))) == \
        {"loss_cycle_a", "loss_cycle_b"}


def test_train_step_terms_and_every_parameter_changes() -> None:
    r = make(lambda_a=10.0, lambda_b=5.0, lambda_identity=0.5, pool_size=2)
    before = {f"{n}.{k}": p.detach().clone() for n, net in r.nets.items() for k, p in net.named_parameters()}
    gen = torch.Generator().manual_seed(2)
    a, b = torch.rand(2, 3, 16, 16, generator=gen) * 2 - 1, torch.rand(2, 3, 16, 16, generator=gen) * 2 - 1
    with torch.no_grad():  # the cycle and identity terms, recomputed from the networks before the step
        import torch.nn.functional as F

        cyc_a = 10.0 * F.l1_loss(r.g_ba(r.g_ab(a)), a)
        idt_b = 5.0 * 0.5 * F.l1_loss(r.g_ab(b), b)
    out = r.train_step(Batch(a, target=b))
    assert float(out["loss_cycle_a"]) == pytest.approx(float(cyc_a), rel=1e-5)
    assert float(out["loss_idt_b"]) == pytest.approx(float(idt_b), rel=1e-5)
    keys = {"loss_g_ab", "loss_g_ba", "loss_cycle_a", "loss_cycle_b", "loss_idt_a", "loss_idt_b", "loss_d_a", "loss_d_b"}
    assert keys <= set(out)
    total = sum(float(out[k]) for k in keys if k.startswith("loss_g_") or "cycle" in k or "idt" in k)
    assert float(out["loss_g"]) == pytest.approx(total, rel=1e-5)
    after = {f"{n}.{k}": p for n, net in r.nets.items() for k, p in net.named_parameters()}
    assert not [k for k in before if torch.equal(before[k], after[k])]
    assert len(r.pool_a.images) == len(r.pool_b.images) == 2
    assert "loss_idt_a" not in make(lambda_identity=0.0).train_step(Batch(a, target=b))


def test_pizza_domains_are_deterministic_and_differ() -> None:
    a1, a2, b = pizza(16, 32, seed=3).images, pizza(16, 32, seed=3).images, pizza_photo(16, 32, seed=3).images
    assert np.array_equal(a1, a2)

    def edge_energy(x: np.ndarray) -> float:  # flat cartoons have hard outlines, photos are soft
        g = x.astype(np.float32).mean(-1)
        return float(np.abs(np.diff(g, axis=1)).mean() + np.abs(np.diff(g, axis=2)).mean())

    def colour_count(x: np.ndarray) -> float:  # flat: few distinct colours; photo: noise and shading
        return float(np.mean([len(np.unique(im.reshape(-1, 3), axis=0)) for im in x]))

    assert colour_count(b) > 3 * colour_count(a1)
    assert edge_energy(a1) != pytest.approx(edge_energy(b), rel=0.05)


def test_unpaired_data_layouts_and_independent_draws(tmp_path: Path) -> None:
    write_domain(tmp_path / "trainA", 6, (200, 30, 30))
    write_domain(tmp_path / "trainB", 4, (30, 30, 200))
    write_domain(tmp_path / "testA", 2, (200, 30, 30))
    write_domain(tmp_path / "testB", 2, (30, 30, 200))
    cfg = DataConfig(source=str(tmp_path), image_size=16, load_size=20, crop="random", flip=True, cache=False)
    data = UnpairedData.open(cfg, 2, 0, CPU)
    assert data is not None and data.n == 6 and data.steps_per_epoch == 3
    seen_b = []
    for _, batch in zip(range(6), data.batches()):
        assert batch.image[:, 0].mean() > batch.image[:, 2].mean() and batch.target[:, 2].mean() > batch.target[:, 0].mean()
        seen_b.append(batch.target)
    assert not torch.equal(seen_b[0], seen_b[2])  # B wraps around on its own (4 images, 2 per step)
    val = UnpairedData.open(cfg, 1, 0, CPU, part="val")
    assert val is not None and "testA" in val.description and val.n == 2
    assert UnpairedData.open(DataConfig(source=str(tmp_path / "trainA"), source_b=str(tmp_path / "trainB"),
                                        image_size=16), 2, 0, CPU) is not None
    (tmp_path / "two").mkdir()
    write_domain(tmp_path / "two" / "A", 3, (9, 9, 9))
    write_domain(tmp_path / "two" / "B", 3, (250, 250, 250), mode="L")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d = UnpairedData.open(DataConfig(source=str(tmp_path / "two"), image_size=16), 3, 0, CPU)
    assert d is not None and next(d.batches()).target.shape == (3, 3, 16, 16)
    assert any("is colour and domain B" in str(w.message) and "is gray" in str(w.message) for w in caught)


def test_bad_unpaired_data(tmp_path: Path) -> None:
    write_domain(tmp_path / "trainA", 3, (200, 30, 30))
    with pytest.raises(GanforgeError, match="trainB is missing"):
        UnpairedData.open(DataConfig(source=str(tmp_path), image_size=16), 1, 0, CPU)
    (tmp_path / "trainB").mkdir()
    with pytest.raises(GanforgeError, match="no images"):
        UnpairedData.open(DataConfig(source=str(tmp_path), image_size=16), 1, 0, CPU)
    with pytest.raises(GanforgeError, match="no trainA/ and trainB/"):
        UnpairedData.open(DataConfig(source=str(tmp_path / "trainA"), image_size=16), 1, 0, CPU)
    write_domain(tmp_path / "trainB", 3, (30, 30, 200))
    with pytest.raises(GanforgeError, match="are 20x20 after resizing, smaller than the crop data.image_size=32"):
        UnpairedData.open(DataConfig(source=str(tmp_path), image_size=32, resize="none"), 1, 0, CPU)


def test_cli_run_resume_translate_both_ways(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for split in ("train", "test"):
        write_domain(tmp_path / "d" / f"{split}A", 4, (200, 30, 30))
        write_domain(tmp_path / "d" / f"{split}B", 4, (30, 30, 200))
    over = tiny_cli(**{"train.deterministic": "true"})
    data = ["--data", str(tmp_path / "d")]
    assert main(["train", *data, "--out", str(tmp_path / "one"), *over, "train.epochs=2"]) == 0
    assert main(["train", *data, "--out", str(tmp_path / "two"), *over]) == 0
    assert main(["resume", str(tmp_path / "two"), "train.epochs=2"]) == 0

    def rows(run: Path) -> list[dict]:
        return [{k: v for k, v in json.loads(line).items() if k != "images_per_s"}
                for line in (run / "metrics.jsonl").read_text().splitlines()]

    assert rows(tmp_path / "one") == rows(tmp_path / "two")  # the pools and RNG are checkpointed
    assert {"loss_d_a", "loss_cycle_b", "d_b_fake"} <= set(rows(tmp_path / "one")[-1])
    grid = Image.open(tmp_path / "one" / "samples" / "epoch_002.png")
    assert grid.size == (4 * (3 * 18 + 2), 4 * (4 * 18 + 2))  # 2 rows A -> B -> A, 2 rows B -> A -> B; 16 px cells x4
    ck = torch.load(tmp_path / "one" / "last.pt", weights_only=True)
    assert set(ck["state"]["nets"]) == {"g_ab", "g_ba", "d_a", "d_b"} and ck["state"]["pools"]["a"].shape[0] == 8  # 4 steps x 2 fakes
    for direction in ("AtoB", "BtoA"):
        out = tmp_path / f"out_{direction}"
        assert main(["translate", str(tmp_path / "one"), "--input", str(tmp_path / "d" / "testA"), "--out", str(out),
                     "--direction", direction]) == 0
        assert sorted(p.name for p in out.iterdir()) == [f"{i:03d}.png" for i in range(4)]
        assert Image.open(out / "000.png").size == (20, 20)
    a, b = (np.asarray(Image.open(tmp_path / f"out_{d}" / "000.png")) for d in ("AtoB", "BtoA"))
    assert not np.array_equal(a, b)  # two generators


def test_pizza_run_lowers_the_cycle_loss(tmp_path: Path) -> None:
    run = tmp_path / "pz"
    over = tiny_cli(**{"data.source": "builtin:pizza", "data.builtin_n": 64, "data.image_size": 32, "data.load_size": 36,
                       "model.g_width": 8, "model.d_width": 8, "train.epochs": 8, "train.batch_size": 4,
                       "train.log_every": 4, "optim.lr": 5e-4})
    assert main(["train", "--out", str(run), *over]) == 0  # 128 steps
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    cyc = [r["loss_cycle_a"] + r["loss_cycle_b"] for r in rows if "loss_cycle_a" in r]
    # measured: 8.5 over the first 12 steps, 6.4 over the last 12
    assert np.mean(cyc[-3:]) < 0.8 * np.mean(cyc[:3]), cyc


def test_presets_and_bad_settings(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfgs = {n: resolve([{"name": n, **presets.get(n).layer}]) for n in ("cyclegan", "cyclegan-dropout", "cyclegan-pizza")}
    c = cfgs["cyclegan"]
    assert (c.model.generator, c.model.norm, c.model.loss, c.model.lambda_a, c.model.lambda_identity,
            c.model.pool_size, c.model.d_layers) == ("resnet_9blocks", "instance", "lsgan", 10.0, 0.5, 50, 3)
    assert (c.data.load_size, c.data.image_size, c.data.crop, c.data.flip, c.train.batch_size, c.train.epochs,
            c.optim.resolved_decay_epochs(c.train.epochs), c.optim.lr) == (286, 256, "random", True, 1, 200, 100, 2e-4)
    # a shortened preset stays valid: the decay is a share of the run
    short = resolve([presets.get("cyclegan").layer, {"train": {"epochs": 2}, "data": {"source": "builtin:pizza"}}])
    assert short.optim.resolved_decay_epochs(short.train.epochs) == 1
    assert cfgs["cyclegan-dropout"].model.dropout == 0.2 and cfgs["cyclegan-pizza"].data.source == "builtin:pizza"
    assert presets.get("cyclegan").needs_data and not presets.get("cyclegan-pizza").needs_data
    line = one_line_error(capsys, ["train", "--out", str(tmp_path / "r"), *tiny_cli(**{"data.image_size": 18})])
    assert "divisible by 4" in line
    line = one_line_error(capsys, ["train", "--out", str(tmp_path / "r"), *tiny_cli(**{"data.source": "builtin:nope"})])
    assert "builtin:nope has one domain" in line
