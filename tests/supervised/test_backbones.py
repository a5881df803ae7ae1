import numpy as np
import pytest
import torch
from gymnasium import spaces
from torch import nn

from sige_rl.supervised.backbones import (
    MLP,
    VAE,
    ImpalaCNN,
    MinAtarCNN,
    MnistCNN,
    NatureCNN,
    Network,
    ResNet,
    SequenceModel,
    SmallVGG,
    TransformerEncoder,
    make_backbone,
    make_network,
)

CARTPOLE = spaces.Box(-np.inf, np.inf, (4,), np.float32)
GRID = spaces.Discrete(16)
ATARI = spaces.Box(0, 255, (4, 84, 84), np.uint8)
CHANNEL_LAST = spaces.Box(0, 255, (64, 64, 3), np.uint8)
MINATAR = spaces.Box(0, 1, (6, 10, 10), bool)  # MinAtar SpaceInvaders, channels first


CASES = [  # (name, space, out_dim)
    ("mlp", CARTPOLE, 64),
    ("mlp", GRID, 64),
    ("mlp", spaces.MultiBinary(5), 64),
    ("mlp", spaces.Box(0, 1, (2, 3, 2)), 64),
    ("nature_cnn", ATARI, 512),
    ("nature_cnn", CHANNEL_LAST, 512),
    ("impala_cnn", ATARI, 256),
    ("impala_cnn", CHANNEL_LAST, 256),
    ("minatar_cnn", MINATAR, 128),
    ("auto", ATARI, 512),
    ("auto", MINATAR, 128),
    ("auto", CARTPOLE, 64),
]


def batch(space, n=5, seed=0):
    space.seed(seed)
    return torch.as_tensor(np.stack([space.sample() for _ in range(n)]))


def copy_of(net, name, space, **kw):
    twin = make_backbone(name, space, **kw)
    twin.load_state_dict(net.state_dict())
    return twin.eval()


@pytest.mark.parametrize(("name", "space", "out_dim"), CASES)
def test_output_shape_and_dtype(name, space, out_dim):
    net = make_backbone(name, space)
    y = net(batch(space))
    assert net.out_dim == out_dim
    assert y.shape == (5, out_dim) and y.dtype == torch.float32


def test_auto_picks_by_space():
    assert isinstance(make_backbone("auto", ATARI)[1], NatureCNN)
    assert isinstance(make_backbone("auto", GRID)[1], MLP)
    assert isinstance(make_backbone("auto", MINATAR)[1], MinAtarCNN)


def test_minatar_cnn_parameter_count_matches_the_paper():
    """Young & Tian's network: conv 16 3x3 s1 on 10x10 (-> 8x8), Linear 1024 -> 128."""
    net = make_backbone("minatar_cnn", MINATAR)
    hand = (6 * 16 * 9 + 16) + (16 * 8 * 8 * 128 + 128)
    assert sum(p.numel() for p in net.parameters()) == hand
    assert net(batch(MINATAR)).min() >= 0  # bool input read as 0/1 floats, ReLU output


def test_nature_cnn_parameter_count_matches_paper():
    net = make_backbone("nature_cnn", ATARI)
    hand = (4 * 32 * 64 + 32) + (32 * 64 * 16 + 64) + (64 * 64 * 9 + 64) + (3136 * 512 + 512)
    assert sum(p.numel() for p in net.parameters()) == hand == 1_684_128


def test_impala_cnn_shapes_follow_stages():
    # 84 -> 42 -> 21 -> 11 (each max-pool halves, rounding up), 32 channels
    net = ImpalaCNN((4, 84, 84))
    assert net.head[0].in_features == 32 * 11 * 11
    assert sum(isinstance(m, nn.MaxPool2d) for m in net.modules()) == 3


@pytest.mark.parametrize("name", ["nature_cnn", "impala_cnn"])
def test_uint8_is_scaled_to_unit_interval(name):
    torch.manual_seed(0)
    net = make_backbone(name, ATARI).eval()
    x = batch(ATARI, n=2)
    assert x.dtype == torch.uint8
    torch.testing.assert_close(net(x), net(x.float() / 255))


def test_discrete_one_hot_equals_explicit_one_hot():
    net = make_backbone("mlp", GRID)
    twin = copy_of(net, "mlp", spaces.Box(0, 1, (16,), np.float32))
    idx = torch.tensor([0, 3, 15, 7])
    torch.testing.assert_close(net(idx), twin(torch.eye(16)[idx]))


def test_discrete_with_start_offset():
    net = make_backbone("mlp", spaces.Discrete(4, start=-2))
    twin = copy_of(net, "mlp", spaces.Discrete(4))
    torch.testing.assert_close(net(torch.tensor([-2, 1])), twin(torch.tensor([0, 3])))


@pytest.mark.parametrize("name", ["nature_cnn", "impala_cnn"])
def test_channel_last_is_permuted(name):
    net = make_backbone(name, CHANNEL_LAST)
    twin = copy_of(net, name, spaces.Box(0, 255, (3, 64, 64), np.uint8))
    x = batch(CHANNEL_LAST, n=2)
    torch.testing.assert_close(net(x), twin(x.permute(0, 3, 1, 2)))


def test_four_frame_stack_is_channel_first():
    assert make_backbone("nature_cnn", ATARI)[0].shape == (4, 84, 84)


@pytest.mark.parametrize(("norm", "layer"), [("layer", nn.LayerNorm), ("batch", nn.BatchNorm1d)])
def test_norm_layers_present_when_asked(norm, layer):
    net = make_backbone("mlp", CARTPOLE, hidden=(8, 8), norm=norm)
    assert sum(isinstance(m, layer) for m in net.modules()) == 2
    plain = make_backbone("mlp", CARTPOLE, hidden=(8, 8))
    assert not any(isinstance(m, nn.LayerNorm | nn.BatchNorm1d) for m in plain.modules())


def test_dropout_present_and_off_in_eval():
    net = make_backbone("mlp", CARTPOLE, hidden=(256, 256), dropout=0.5)
    assert sum(isinstance(m, nn.Dropout) for m in net.modules()) == 2
    x = batch(CARTPOLE)
    torch.manual_seed(0)
    assert not torch.equal(net(x), net(x))  # train mode: a fresh mask each call
    net.eval()
    torch.testing.assert_close(net(x), net(x), rtol=0, atol=0)


@pytest.mark.parametrize("act", ["relu", "tanh", "elu", "gelu", "silu", "leaky_relu"])
def test_activations_by_name(act):
    assert make_backbone("mlp", CARTPOLE, activation=act)(batch(CARTPOLE)).shape == (5, 64)


def test_mlp_learns_sum_regression():
    torch.manual_seed(0)
    x = torch.randn(256, 4)
    y = x.sum(1, keepdim=True)  # variance 4: predicting the mean scores MSE ~4
    body = make_backbone("mlp", CARTPOLE, hidden=(32, 32))
    model = nn.Sequential(body, nn.Linear(body.out_dim, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.01  # 400x below the mean predictor


def test_unknown_name_suggests_close_match():
    with pytest.raises(
        ValueError, match=r"unknown backbone 'natur_cnn'; did you mean 'nature_cnn'"
    ):
        make_backbone("natur_cnn", ATARI)
    with pytest.raises(ValueError, match="allowed: mlp, nature_cnn, impala_cnn, minatar_cnn, auto"):
        make_backbone("transformer_xl", ATARI)


@pytest.mark.parametrize("name", ["nature_cnn", "impala_cnn"])
def test_cnn_on_flat_space_says_what_is_needed(name):
    with pytest.raises(ValueError, match=r"needs an image Box of shape \(C, H, W\).*uint8"):
        make_backbone(name, CARTPOLE)


def test_nature_cnn_rejects_tiny_images():
    with pytest.raises(ValueError, match="at least 36x36.*impala_cnn"):
        make_backbone("nature_cnn", spaces.Box(0, 255, (7, 7, 3), np.uint8))
    assert make_backbone("impala_cnn", spaces.Box(0, 255, (7, 7, 3), np.uint8)).out_dim == 256


def test_bad_activation_and_norm_and_space():
    with pytest.raises(ValueError, match="unknown activation 'relu6'; allowed: relu, tanh"):
        make_backbone("mlp", CARTPOLE, activation="relu6")
    with pytest.raises(ValueError, match="unknown norm 'group'"):
        make_backbone("mlp", CARTPOLE, norm="group")
    with pytest.raises(ValueError, match="mlp reads Box, Discrete or MultiBinary"):
        make_backbone("mlp", spaces.Dict({"a": CARTPOLE}))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize(("name", "space", "out_dim"), CASES)
def test_forward_backward_on_cuda(name, space, out_dim):
    net = make_backbone(name, space).cuda()
    y = net(batch(space, n=8).cuda())
    y.square().mean().backward()
    assert y.device.type == "cuda" and y.shape == (8, out_dim)
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and g.is_cuda and torch.isfinite(g).all() for g in grads)


# --- make_network and the backbones added with it -----------------------------------------------

DIGITS = spaces.Box(0, 255, (1, 8, 8), np.uint8)  # sklearn's 8x8 digits as an image observation
SEQUENCE = spaces.Box(-1, 1, (6, 3), np.float32)


def test_old_import_paths_still_work():
    from sige_rl.supervised.backbones import ACTIVATIONS, NORMS, flat_size, make_activation
    from sige_rl.supervised.cnn import NatureCNN as moved
    from sige_rl.supervised.mlp import MLP as moved_mlp

    assert moved is NatureCNN and moved_mlp is MLP
    assert "relu" in ACTIVATIONS and None in NORMS and callable(make_activation)
    assert flat_size(nn.Flatten(), (2, 3)) == 6


@pytest.mark.parametrize(
    ("name", "body"), [("mnist_cnn", MnistCNN), ("vgg", SmallVGG), ("resnet", ResNet)]
)
def test_image_backbones_scale_uint8(name, body):
    torch.manual_seed(0)
    net = make_backbone(name, DIGITS).eval()
    x = batch(DIGITS, n=3)
    y = net(x)
    assert y.shape == (3, net.out_dim) and y.dtype == torch.float32
    torch.testing.assert_close(y, net[1](x.float() / 255))
    assert isinstance(net[1], body)


@pytest.mark.parametrize(
    ("name", "body"),
    [("lstm", SequenceModel), ("gru", SequenceModel), ("transformer", TransformerEncoder)],
)
def test_sequence_backbones_give_one_vector_per_observation(name, body):
    torch.manual_seed(0)
    net = make_backbone(name, SEQUENCE).eval()
    x = batch(SEQUENCE).double()
    y = net(x)
    assert y.shape == (5, 64) and y.dtype == torch.float32
    torch.testing.assert_close(y, net[1](x.float()))
    assert isinstance(net[1], body)


def test_backbones_say_which_space_they_need():
    with pytest.raises(ValueError, match=r"needs a 2-D Box of shape \(T, F\)"):
        make_backbone("lstm", ATARI)
    with pytest.raises(ValueError, match=r"needs an image Box of shape \(C, H, W\)"):
        make_backbone("resnet", SEQUENCE)
    with pytest.raises(ValueError, match="one feature vector per observation"):
        make_backbone("gru", SEQUENCE, many_to_many=True)


def test_network_head_is_a_linear_layer_that_can_be_swapped():
    torch.manual_seed(0)
    net = make_network("mlp", (2, 3), out_dim=4, hidden=(8,))
    assert isinstance(net, Network) and net.out_dim == 4
    x = torch.randn(5, 2, 3)
    head = net.head
    torch.testing.assert_close(net(x), head(torch.relu(net.body[1].net[0](x.reshape(5, 6)))))
    net.head = nn.Linear(net.body.out_dim, 7)
    assert net(x).shape == (5, 7)
    features = make_network("mlp", (2, 3), hidden=(8,))
    assert isinstance(features.head, nn.Identity) and features.out_dim == 8


def test_network_passes_keywords_to_its_body():
    """``lengths`` reaches the GRU: each row is the network on its unpadded sequence alone."""
    torch.manual_seed(0)
    net = make_network("gru", (6, 3), out_dim=2, hidden=5)
    x = torch.randn(2, 6, 3)
    y = net(x, lengths=torch.tensor([6, 2]))
    torch.testing.assert_close(y[1], net(x[1:, :2])[0])
    torch.testing.assert_close(y[0], net(x[:1])[0])


def test_generative_networks_come_as_they_are():
    vae = make_network("vae", (1, 8, 8), latent_dim=2)
    assert type(vae) is VAE
    gen = make_network("dcgan_generator", (1, 8, 8), z_dim=5)
    assert gen(torch.randn(2, 5)).shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match="vae is generative and takes no out_dim"):
        make_network("vae", (1, 8, 8), out_dim=10)


def test_make_network_says_what_is_allowed():
    with pytest.raises(ValueError, match=r"unknown network 'resnett'; did you mean 'resnet'"):
        make_network("resnett", (1, 8, 8))
    with pytest.raises(ValueError, match=r"allowed: mlp, mnist_cnn, vgg, resnet, .*dcgan_disc"):
        make_network("lenet", (1, 8, 8))
    with pytest.raises(ValueError, match=r"mnist_cnn needs an image shape \(C, H, W\)"):
        make_network("mnist_cnn", (28, 28))
    with pytest.raises(ValueError, match=r"lstm needs a sequence shape \(T, F\)"):
        make_network("lstm", (1, 8, 8))
    with pytest.raises(ValueError, match=r"cnn1d needs a signal shape \(C, L\) or \(L,\)"):
        make_network("cnn1d", (1, 8, 8))
    with pytest.raises(ValueError, match=r"text_classifier needs vocab_size"):
        make_network("text_classifier", (10,), out_dim=2)
    with pytest.raises(ValueError, match="positive ints"):
        make_network("mlp", (0, 3))
