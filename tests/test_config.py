"""Config resolution: layers, dotted overrides, files, typing and the errors for bad keys/values."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganforge import presets
from ganforge.config import Config, load_file, parse_override
from ganforge.configure import from_dict, resolve
from ganforge.errors import GanforgeError


def test_layers_merge_in_order_and_values_are_typed() -> None:
    cfg = resolve([presets.get("dcgan-cifar10").layer, parse_override("train.epochs=5"),
                   parse_override("optim.lr=1e-4"), parse_override("data.flip=yes")])
    assert isinstance(cfg, Config)
    assert cfg.train.epochs == 5 and cfg.optim.lr == 1e-4 and cfg.data.flip is True
    assert cfg.data.image_size == 64 and cfg.train.batch_size == 64  # from the preset
    assert (cfg.optim.beta1, cfg.optim.beta2) == (0.5, 0.999)


def test_cifar_preset_is_the_seed_setup() -> None:
    cfg = resolve([presets.get("dcgan-cifar10").layer])
    assert (cfg.data.image_size, cfg.train.batch_size, cfg.train.epochs, cfg.optim.lr) == (64, 64, 30, 2e-4)
    assert (cfg.model.latent_dim, cfg.model.g_width, cfg.model.d_width) == (100, 64, 64)


def test_round_trip_through_dict() -> None:
    cfg = resolve([presets.get("dcgan-mnist").layer, parse_override("train.seed=7")])
    assert from_dict(cfg.to_dict()) == cfg


def test_unknown_key_lists_valid_keys() -> None:
    with pytest.raises(GanforgeError, match=r"unknown config key 'train.epoch' \(did you mean train.epochs\?\); valid keys in train: epochs, steps"):
        resolve([parse_override("train.epoch=3")])
    with pytest.raises(GanforgeError, match=r"unknown config key 'model.ngf'.*latent_dim, g_width, d_width"):
        resolve([parse_override("model.ngf=3")])
    with pytest.raises(GanforgeError, match="unknown config key 'trian'"):
        resolve([{"trian": {}}])


@pytest.mark.parametrize("override, message", [
    ("train.epochs=abc", "train.epochs expects int, got 'abc'"),
    ("optim.lr=fast", "optim.lr expects float, got 'fast'"),
    ("data.flip=maybe", "data.flip expects bool, got 'maybe'"),
    ("data.crop=diagonal", "data.crop must be one of center, random; got 'diagonal'"),
    ("train.epochs=0", "train.epochs must be > 0; got 0"),
    ("optim.beta1=1.5", r"optim.beta1 must be in \[0, 1\); got 1.5"),
    ("data.channels=2", "data.channels must be 1 or 3; got 2"),
    ("train.device=gpu", "train.device must be auto, cpu, cuda, cuda:N or mps; got 'gpu'"),
    ("data.image_size=48", "data.image_size must be one of 16, 32, 64, 128, 256 for dcgan; got 48"),
    ("recipe=vae", "unknown recipe 'vae'; choices: cdcgan, cgan, cyclegan, dcgan, mlp, pix2pix, r3gan, wgangp"),
])
def test_bad_values_name_key_value_and_allowed(override: str, message: str) -> None:
    with pytest.raises(GanforgeError, match=message):
        resolve([parse_override(override)])


def test_bad_override_syntax() -> None:
    with pytest.raises(GanforgeError, match="expected KEY=VALUE"):
        parse_override("train.epochs")


def test_yaml_and_toml_files(tmp_path: Path) -> None:
    y = tmp_path / "c.yaml"
    y.write_text("train:\n  epochs: 3\noptim:\n  lr: 0.0001\n")
    t = tmp_path / "c.toml"
    t.write_text("[train]\nepochs = 3\n[optim]\nlr = 0.0001\n")
    assert resolve([load_file(y)]) == resolve([load_file(t)])
    assert resolve([load_file(y)]).train.epochs == 3


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(GanforgeError, match="does not exist"):
        load_file(tmp_path / "nope.yaml")
    (tmp_path / "c.json").write_text("{}")
    with pytest.raises(GanforgeError, match="allowed: .yaml, .yml, .toml"):
        load_file(tmp_path / "c.json")
    (tmp_path / "bad.yaml").write_text("train: [1, 2\n")
    with pytest.raises(GanforgeError, match="cannot parse config file"):
        load_file(tmp_path / "bad.yaml")


def test_unknown_preset() -> None:
    with pytest.raises(GanforgeError, match="unknown preset 'dcgan-mnst'; choices: .*dcgan-mnist"):
        presets.get("dcgan-mnst")


def test_every_preset_resolves() -> None:
    for name, p in presets.PRESETS.items():
        cfg = resolve([p.layer])
        assert cfg.recipe == p.layer["recipe"] and cfg.name == "", name
