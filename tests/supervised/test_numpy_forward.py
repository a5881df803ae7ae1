"""The numpy forward against the torch modules it mirrors: same outputs on random inputs, live
parameter views, and ``None`` (not a wrong answer) for what it does not know."""

import numpy as np
import pytest
import torch
from gymnasium import spaces
from torch import nn

from sige_rl.supervised.backbones import ACTIVATIONS, make_backbone
from sige_rl.supervised.numpy_forward import numpy_forward

CARTPOLE = spaces.Box(-np.inf, np.inf, (4,), np.float32)


def sample(space, n=64, seed=0):
    space.seed(seed)
    return np.stack([space.sample() for _ in range(n)])


def torch_out(modules, x):
    with torch.no_grad():
        y = torch.as_tensor(x)
        for m in modules:
            y = m(y)
    return y.numpy()


def randomise(*modules):
    """Non-default values for every parameter, so biases and norm gains are exercised."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in modules:
            for p in m.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)


SUPPORTED = sorted(set(ACTIVATIONS) - {"gelu"})


@pytest.mark.parametrize("activation", SUPPORTED)
@pytest.mark.parametrize("norm", [None, "layer"])
def test_mlp_matches_torch(activation, norm):
    net = make_backbone("mlp", CARTPOLE, hidden=(32, 16), activation=activation, norm=norm)
    head = nn.Linear(net.out_dim, 3)
    randomise(net, head)
    x = sample(spaces.Box(-3, 3, (4,), np.float32))
    forward = numpy_forward(net, head)
    assert forward is not None
    np.testing.assert_allclose(forward(x), torch_out([net, head], x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "space",
    [spaces.Discrete(16), spaces.Discrete(5, start=-2), spaces.MultiBinary(5)],
    ids=["discrete", "discrete-start", "multibinary"],
)
def test_adapters_match_torch(space):
    net = make_backbone("mlp", space, hidden=(8,))
    randomise(net)
    x = sample(space, n=20)
    np.testing.assert_allclose(numpy_forward(net)(x), torch_out([net], x), rtol=1e-5, atol=1e-6)


def test_float64_observations_are_read_as_float32_like_torch():
    net = make_backbone("mlp", spaces.Box(-1, 1, (3,), np.float64), hidden=(8,))
    x = sample(spaces.Box(-1, 1, (3,), np.float64), n=10)
    y = numpy_forward(net)(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, torch_out([net], x), rtol=1e-5, atol=1e-6)


def test_follows_in_place_parameter_updates():
    net = make_backbone("mlp", CARTPOLE, hidden=(16,))
    forward = numpy_forward(net)
    x = sample(spaces.Box(-1, 1, (4,), np.float32), n=8)
    before = forward(x).copy()
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    net(torch.as_tensor(x)).pow(2).sum().backward()
    opt.step()
    after = forward(x)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, torch_out([net], x), rtol=1e-5, atol=1e-6)
    twin = make_backbone("mlp", CARTPOLE, hidden=(16,))
    net.load_state_dict(twin.state_dict())
    np.testing.assert_allclose(forward(x), torch_out([twin], x), rtol=1e-5, atol=1e-6)


def test_does_not_write_into_the_input():
    forward = numpy_forward(nn.Sequential(nn.ReLU(), nn.Tanh()))
    x = np.array([[-1.0, 2.0]], np.float32)
    forward(x)
    assert x.tolist() == [[-1.0, 2.0]]


@pytest.mark.parametrize(
    "module",
    [
        make_backbone("nature_cnn", spaces.Box(0, 255, (4, 84, 84), np.uint8)),
        make_backbone("mlp", CARTPOLE, norm="batch"),
        make_backbone("mlp", CARTPOLE, dropout=0.1),
        make_backbone("mlp", CARTPOLE, activation="gelu"),
        nn.Linear(4, 2).double(),
    ],
    ids=["cnn", "batch-norm", "dropout", "gelu", "float64-weights"],
)
def test_unsupported_networks_get_none(module):
    assert numpy_forward(module) is None


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_parameters_get_none():
    assert numpy_forward(make_backbone("mlp", CARTPOLE).cuda()) is None
