"""R3GAN (Huang et al. 2024): the RpGAN losses and R1/R2 penalties in closed form, and the networks of
ganforge.nets.r3gan (shapes, conditioning, errors, the reference's parameter counts and initialisation)."""

from __future__ import annotations

import math

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.losses import LOSSES, d_loss_rpgan, g_loss_rpgan, r1_penalty, r2_penalty
from ganforge.nets import NETS
from ganforge.nets.layers import count_parameters
from ganforge.nets.r3gan import LEAKY_RELU_GAIN, R3GANDiscriminator, R3GANGenerator, Resample, ResidualBlock, lowpass_kernel

# --------------------------------------------------------------------------------------------------
# Losses and penalties


def test_rpgan_closed_forms() -> None:
    same = torch.tensor([0.3, -1.2, 4.0])
    assert math.isclose(d_loss_rpgan(same, same).item(), math.log(2), rel_tol=1e-6)
    assert math.isclose(g_loss_rpgan(same, same).item(), math.log(2), rel_tol=1e-6)
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 1.0])
    # pairs (2, 0) and (0, 1): D sees real - fake = 2 and -1, G sees fake - real = -2 and 1
    d_want = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(1.0))) / 2
    g_want = (math.log1p(math.exp(2.0)) + math.log1p(math.exp(-1.0))) / 2
    assert math.isclose(d_loss_rpgan(real, fake).item(), d_want, rel_tol=1e-6)
    assert math.isclose(g_loss_rpgan(real, fake).item(), g_want, rel_tol=1e-6)
    assert math.isclose(g_loss_rpgan(fake, real).item(), d_want, rel_tol=1e-6)  # G's loss is D's with roles swapped
    # element-wise pairing, not all pairs: swapping the fake logits changes the loss
    assert not math.isclose(d_loss_rpgan(real, fake.flip(0)).item(), d_want, rel_tol=1e-3)
    with pytest.raises(ValueError, match=r"one shape, got \(2,\) and \(3,\)"):
        d_loss_rpgan(real, torch.zeros(3))


def test_rpgan_gradient_signs_and_precision() -> None:
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(16, generator=gen).requires_grad_()
    fake = torch.randn(16, generator=gen).requires_grad_()
    gr, gf = torch.autograd.grad(d_loss_rpgan(real, fake), (real, fake))
    assert (gr < 0).all() and (gf > 0).all()  # D's loss falls when a real logit rises or a fake one falls
    assert d_loss_rpgan(real + 0.5, fake) < d_loss_rpgan(real, fake)
    gr, gf = torch.autograd.grad(g_loss_rpgan(real, fake), (real, fake))
    assert (gf < 0).all() and (gr > 0).all()  # G's loss falls when a fake logit rises
    assert d_loss_rpgan(real.detach().bfloat16(), fake.detach().bfloat16()).dtype == torch.float32
    assert "rpgan" not in LOSSES  # its G loss needs the real logits: not in the g(fake_logits) registry


@pytest.mark.parametrize("penalty", [r1_penalty, r2_penalty])
def test_r1_r2_on_a_linear_critic(penalty) -> None:
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(3 * 4 * 4, generator=gen).requires_grad_(True)
    x = torch.randn(5, 3, 4, 4, generator=gen).requires_grad_(True)
    logits = x.flatten(1) @ w  # D(x) = w.x: grad D = w at every x
    value = penalty(logits, x)
    assert math.isclose(value.item(), (w**2).sum().item(), rel_tol=1e-5)  # mean over the batch, no gamma/2
    (grad_w,) = torch.autograd.grad(value, w)  # differentiable in D's parameters: d|w|^2/dw = 2w
    assert torch.allclose(grad_w, 2 * w.detach(), rtol=1e-5)
    # a quadratic critic D(x) = |x|^2 / 2 has grad x: the penalty is the batch mean of |x|^2
    x2 = torch.randn(4, 2, 3, 3, generator=gen).requires_grad_(True)
    assert torch.allclose(penalty(0.5 * (x2**2).flatten(1).sum(1), x2), (x2.detach() ** 2).flatten(1).sum(1).mean())


# --------------------------------------------------------------------------------------------------
# Networks

TINY = {"widths": [16, 8, 8], "blocks": [1, 2, 1], "group_width": 4, "expansion": 2}  # 16x16
TINY8 = {"widths": [8, 4], "blocks": [1, 1], "group_width": 4, "expansion": 2}  # 8x8, a width change
TINY32 = {"widths": [16, 8, 8, 4], "blocks": [1, 1, 1, 1], "group_width": 4, "expansion": 2}
CIFAR10 = {"widths": [768] * 4, "blocks": [2] * 4, "group_width": 16, "expansion": 2, "channels": 3, "image_size": 32}


@pytest.mark.parametrize("size, arch", [(16, TINY), (32, TINY32)])
@pytest.mark.parametrize("n_classes", [0, 5])
def test_shapes(size: int, arch: dict, n_classes: int) -> None:
    torch.manual_seed(0)
    g = R3GANGenerator(latent_dim=8, channels=3, image_size=size, n_classes=n_classes, **arch)
    d = R3GANDiscriminator(channels=3, image_size=size, n_classes=n_classes, **arch)
    labels = torch.arange(6) % n_classes if n_classes else None
    fake = g(torch.randn(6, 8), labels)
    assert fake.shape == (6, 3, size, size) and torch.isfinite(fake).all()
    assert 0.05 < fake.std().item() < 3  # variance-preserving init: unsquashed but of the order of [-1, 1]
    logits = d(fake, labels)
    assert logits.shape == (6,) and torch.isfinite(logits).all()


def test_labels_and_shapes_are_checked() -> None:
    g = R3GANGenerator(latent_dim=8, image_size=16, n_classes=3, **TINY)
    d = R3GANDiscriminator(image_size=16, n_classes=3, **TINY)
    with pytest.raises(ValueError, match=r"class-conditional \(3 classes\): pass labels of shape \(2,\)"):
        g(torch.randn(2, 8))
    with pytest.raises(ValueError, match="class-conditional"):
        d(torch.randn(2, 3, 16, 16))
    with pytest.raises(ValueError, match=r"labels of shape \(2,\), got \(2, 3\)"):
        d(torch.randn(2, 3, 16, 16), torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"z of shape \(N, 8\), got \(2, 9\)"):
        g(torch.randn(2, 9), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"shape \(N, 3, 16, 16\), got \(2, 3, 32, 32\)"):
        d(torch.randn(2, 3, 32, 32), torch.zeros(2, dtype=torch.long))
    # an unconditional network ignores labels, like the other networks (recipes pass a batch's labels regardless)
    g0 = R3GANGenerator(latent_dim=8, image_size=16, **TINY)
    z = torch.randn(2, 8)
    assert torch.equal(g0(z), g0(z, torch.zeros(2, dtype=torch.long)))


def test_bad_configurations_say_what_is_allowed() -> None:
    with pytest.raises(GanforgeError, match="image size 24 is not 4 \\* 2\\^k"):
        R3GANGenerator(image_size=24)
    with pytest.raises(GanforgeError, match=r"widths \[8, 8\] has 2 stages; 16x16 needs 3"):
        R3GANDiscriminator(widths=[8, 8], blocks=[1, 1, 1], image_size=16)
    with pytest.raises(GanforgeError, match="group_width 5 does not divide"):
        R3GANGenerator(widths=[8, 8, 8], blocks=[1, 1, 1], group_width=5, image_size=16)


def test_reference_cifar10_parameter_counts() -> None:
    """brownvc/R3GAN train.py --preset CIFAR10 (widths 768, 2 blocks per stage, 96 groups, expansion 2, latent 64),
    counted on the meta device; the reference's R3GAN/Networks.py gives the same four numbers."""
    w, e, groups, n_blocks = 768, 2, 96, 8
    block = w * e * w + (w * e) * (w * e // groups) * 9 + w * e * w + 2 * w * e  # conv1, grouped conv2, conv3, 2 biases
    g_want = n_blocks * block + w * 16 + 64 * w + w * 3  # + 4x4 basis, latent -> basis, 1x1 to RGB
    d_want = n_blocks * block + 3 * w + w * 16 + w * 1  # + 1x1 from RGB, depthwise 4x4 basis, linear to 1 logit
    g_cond = g_want + 64 * w + 10 * 64  # basis reads z and a 64-d embedding; the embedding of 10 classes
    d_cond = d_want - w + w * w + 10 * w  # basis -> 768 features instead of 1 logit; the 768-d embedding
    assert (g_want, d_want, g_cond, d_cond) == (20_732_160, 20_683_776, 20_781_952, 21_280_512)
    with torch.device("meta"):
        counts = (count_parameters(R3GANGenerator(latent_dim=64, **CIFAR10)), count_parameters(R3GANDiscriminator(**CIFAR10)),
                  count_parameters(R3GANGenerator(latent_dim=64, n_classes=10, **CIFAR10)),
                  count_parameters(R3GANDiscriminator(n_classes=10, **CIFAR10)))
    assert counts == (g_want, d_want, g_cond, d_cond)
    # and the registry declares them, so test_registries checks them too
    declared = {n for name in ("r3gan_generator", "r3gan_discriminator") for _, n in NETS.meta(name)["references"]}
    assert declared == {g_want, d_want, g_cond, d_cond}


def test_minibatch_std_option() -> None:
    """model.minibatch_std: one more 4x4 channel (the group's feature std) before the basis: 16 + 1 parameters more
    (its 4x4 depthwise filter, its weight in the linear map); a sample's logit then depends on the other samples of
    its group of 4, and without the option it does not."""
    torch.manual_seed(0)
    plain, mb = R3GANDiscriminator(image_size=16, **TINY), R3GANDiscriminator(image_size=16, minibatch_std=True, **TINY)
    assert count_parameters(mb) - count_parameters(plain) == 16 + 1
    x = torch.randn(8, 3, 16, 16)
    y = x.clone()
    y[4] = torch.randn(3, 16, 16)  # groups of 4 over a batch of 8: samples 0, 2, 4, 6 and 1, 3, 5, 7 (by i % 2)
    for net in (plain, mb):
        for m in net.modules():  # the reference init zeroes each block's last conv: give the branches weights
            if isinstance(m, ResidualBlock):
                torch.nn.init.normal_(m.conv3.weight, 0, 0.1)
    changed = mb(x) != mb(y)
    assert changed[[0, 2, 4, 6]].all() and not changed[[1, 3, 5, 7]].any()
    assert torch.equal(plain(x)[:4], plain(y)[:4])
    xr = x.clone().requires_grad_(True)
    r1 = r1_penalty(mb(xr), xr)  # the double backward of R1 runs through the std
    r1.backward()
    assert torch.isfinite(r1) and r1 > 0


def test_reference_initialisation() -> None:
    """R3GAN/Networks.py ResidualBlock: conv1 and conv2 ~ N(0, (gain * L^(-1/4))^2 / fan_in), L = all blocks of the
    network, gain that of LeakyReLU(0.2); conv3 zero, so every block starts as the identity; activation biases 0."""
    torch.manual_seed(0)
    g = R3GANGenerator(latent_dim=8, widths=[64, 64, 64], blocks=[1, 2, 1], group_width=16, expansion=2, image_size=16)
    blocks = [m for m in g.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 4
    scale = LEAKY_RELU_GAIN * 4 ** (-1 / 4)
    conv1 = torch.cat([b.conv1.weight.flatten() for b in blocks])
    conv2 = torch.cat([b.conv2.weight.flatten() for b in blocks])
    assert abs(conv1.std().item() / (scale / math.sqrt(64)) - 1) < 0.05
    assert abs(conv2.std().item() / (scale / math.sqrt(16 * 9)) - 1) < 0.05  # grouped: fan-in 16 channels * 3 * 3
    for b in blocks:
        assert torch.count_nonzero(b.conv3.weight) == 0
        assert torch.count_nonzero(b.act1.bias) == 0 and torch.count_nonzero(b.act2.bias) == 0
        x = torch.randn(2, 64, 4, 4)
        assert torch.equal(b(x), x)
    assert abs(g.stages[0][0].basis.std().item() - 1) < 0.1  # the generative basis ~ N(0, 1)
    d = R3GANDiscriminator(widths=[64, 64, 64], blocks=[1, 2, 1], group_width=16, image_size=16, n_classes=10,
                           embed_dim=256)
    assert abs(d.embed.weight.std().item() / (1 / math.sqrt(256 * 10)) - 1) < 0.1


def test_resampling_filter() -> None:
    k1 = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8  # [1, 2, 1] * [1, 1]: the reference's interpolative filter
    assert torch.allclose(lowpass_kernel((1, 2, 1)), k1[:, None] * k1[None, :])
    flat = torch.full((1, 2, 8, 8), 3.0)
    up, down = Resample(up=True)(flat), Resample(up=False)(flat)
    assert up.shape == (1, 2, 16, 16) and down.shape == (1, 2, 4, 4)
    assert torch.allclose(up[..., 1:-1, 1:-1], flat.new_tensor(3.0))  # unit DC gain away from the zero padding
    assert torch.allclose(down[..., 1:-1, 1:-1], flat.new_tensor(3.0))
    # one pixel upsampled spreads as the separable [1, 3, 3, 1] / 4 filter per axis
    delta = torch.zeros(1, 1, 4, 4)
    delta[..., 1, 1] = 1.0
    k = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 4
    assert torch.allclose(Resample(up=True)(delta)[0, 0, 1:5, 1:5], k[:, None] * k[None, :])
    assert not any(True for _ in Resample(up=True).parameters()) and not Resample(up=True).state_dict()


def test_every_parameter_learns_from_the_second_step() -> None:
    """The zero-initialised last conv of each residual branch passes no gradient to the branch's inner layers on
    the first step (exactly the reference's behaviour); after the second step every parameter has moved."""
    torch.manual_seed(0)
    g = R3GANGenerator(latent_dim=8, image_size=8, n_classes=3, **TINY8)
    d = R3GANDiscriminator(image_size=8, n_classes=3, **TINY8)
    labels = torch.arange(6) % 3
    z, real = torch.randn(6, 8), torch.randn(6, 3, 8, 8)
    opt = torch.optim.SGD([*g.parameters(), *d.parameters()], lr=0.1)
    inner = ("conv1", "conv2", "act1", "act2")
    start = {n: p.detach().clone() for net in ("g", "d") for n, p in
             ((f"{net}.{k}", v) for k, v in (g if net == "g" else d).named_parameters())}

    def step() -> dict[str, bool]:
        opt.zero_grad()
        fake = g(z, labels)
        loss = d_loss_rpgan(d(real, labels), d(fake, labels)) + g_loss_rpgan(d(real, labels), d(fake, labels))
        loss.backward()
        opt.step()
        params = [(f"g.{n}", p) for n, p in g.named_parameters()] + [(f"d.{n}", p) for n, p in d.named_parameters()]
        return {n: not torch.equal(start[n], p) for n, p in params}

    moved = step()
    assert not [n for n, m in moved.items() if m == any(f".{k}." in n for k in inner)], moved
    moved = step()
    assert all(moved.values()), [n for n, m in moved.items() if not m]


def test_fake_batch_gradient_reaches_the_generator() -> None:
    torch.manual_seed(0)
    g = R3GANGenerator(latent_dim=8, image_size=8, **TINY8)
    d = R3GANDiscriminator(image_size=8, **TINY8)
    z, real = torch.randn(4, 8), torch.randn(4, 3, 8, 8)
    fake = g(z)
    fake_in = fake.detach().requires_grad_(True)
    r2 = r2_penalty(d(fake_in), fake_in)  # on a detached copy: no gradient to G
    r2.backward()
    assert all(p.grad is None for p in g.parameters())
    g_loss_rpgan(d(real), d(fake)).backward()
    assert g.aggregate.weight.grad is not None and torch.count_nonzero(g.aggregate.weight.grad) > 0
