"""The CycleGAN ResNet generator: shapes, dropout, the residual identity and padding (its reference parameter counts,
junyanz's, are declared at registration and checked in test_registries.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganforge.nets.resnet import RESNET_BLOCKS, ResnetBlock, ResnetGenerator


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These nets are tiny: on a busy 2-core machine, intra-op threads cost more than they save."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def small(**kw) -> ResnetGenerator:
    torch.manual_seed(0)
    return ResnetGenerator(1, 3, **{"n_blocks": 2, "width": 8, **kw})


def test_resnet_blocks_constant():
    assert RESNET_BLOCKS == {"resnet_9blocks": 9, "resnet_6blocks": 6}


@pytest.mark.parametrize("size", [(32, 32), (36, 44)])
def test_resnet_output_shape_and_tanh_range(size):
    net = small()
    x = torch.randn(2, 1, *size)
    y = net(x)
    assert y.shape == (2, 3, *size)
    assert y.min() >= -1 and y.max() <= 1


def test_resnet_final_none_is_unbounded():
    net = small(final="none")
    assert not any(isinstance(m, nn.Tanh) for m in net.modules())
    with torch.no_grad():
        net.last_conv.weight.mul_(1000)
    y = net(torch.randn(2, 1, 32, 32))
    assert y.abs().max() > 1


@pytest.mark.parametrize("size", [(30, 32), (32, 34), (33, 33)])
def test_resnet_rejects_size_not_divisible_by_4(size):
    with pytest.raises(ValueError, match="divisible by 4"):
        small()(torch.randn(1, 1, *size))


def test_resnet_rejects_wrong_channels_and_names():
    with pytest.raises(ValueError):
        small()(torch.randn(1, 3, 32, 32))
    for kw in ({"norm": "group"}, {"padding": "circular"}, {"final": "sigmoid"}):
        with pytest.raises(ValueError):
            small(**kw)


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_resnet_dropout_modules(dropout):
    net = small(n_blocks=3, dropout=dropout)
    drops = [m for m in net.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == (3 if dropout else 0)
    assert all(d.p == 0.2 for d in drops)


def test_resnet_dropout_train_vs_eval():
    net = small(dropout=0.2)
    x = torch.randn(2, 1, 32, 32)
    net.train()
    assert not torch.equal(net(x), net(x))
    net.eval()
    assert torch.equal(net(x), net(x))


def test_resnet_block_is_identity_with_zeroed_second_conv():
    net = small(norm="none")  # a norm after a zero conv would give zero anyway; with none the bias is zeroed too
    with torch.no_grad():
        for block in net.blocks:
            second = [m for m in block.conv_block if isinstance(m, nn.Conv2d)][1]
            second.weight.zero_()
            second.bias.zero_()
    x = torch.randn(2, 32, 8, 8)
    block = net.blocks[0]
    assert isinstance(block, ResnetBlock)
    assert torch.equal(block(x), x)
    assert torch.equal(net.blocks(x), x)


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_resnet_block_identity_with_norm(norm):
    net = small(norm=norm)
    with torch.no_grad():
        for block in net.blocks:
            second = [m for m in block.conv_block if isinstance(m, nn.Conv2d)][1]
            second.weight.zero_()
            if second.bias is not None:
                second.bias.zero_()
            for m in block.conv_block:  # a BatchNorm's shift would survive the zero conv
                if isinstance(m, nn.BatchNorm2d):
                    m.bias.zero_()
    net.eval()
    x = torch.randn(2, 32, 8, 8)
    assert torch.allclose(net.blocks[0](x), x)


def test_resnet_padding_modules_and_counts():
    reflect, zero, replicate = small(padding="reflect"), small(padding="zero"), small(padding="replicate")
    assert n_params(reflect) == n_params(zero) == n_params(replicate)
    for block in reflect.blocks:
        assert sum(isinstance(m, nn.ReflectionPad2d) for m in block.modules()) == 2
    for block in zero.blocks:
        assert not any(isinstance(m, (nn.ReflectionPad2d, nn.ReplicationPad2d)) for m in block.modules())
        assert all(m.padding == (1, 1) for m in block.modules() if isinstance(m, nn.Conv2d))
    for block in replicate.blocks:
        assert sum(isinstance(m, nn.ReplicationPad2d) for m in block.modules()) == 2
    # the 7x7 convs keep their reflection pads whatever the blocks use
    assert sum(isinstance(m, nn.ReflectionPad2d) for m in zero.modules()) == 2
    x = torch.randn(1, 1, 32, 32)
    assert zero(x).shape == replicate(x).shape == (1, 3, 32, 32)


def test_resnet_biases_follow_norm():
    batch, inst = small(norm="batch"), small(norm="instance")
    convs_b = [m for m in batch.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    convs_i = [m for m in inst.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert all(m.bias is None for m in convs_b[:-1]) and convs_b[-1].bias is not None
    assert all(m.bias is not None for m in convs_i)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in inst.modules())
    norms = [m for m in inst.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert norms and all(not m.affine and not m.track_running_stats for m in norms)


def test_resnet_registered():
    from ganforge.nets import NETS

    assert NETS.get("resnet_generator") is ResnetGenerator
