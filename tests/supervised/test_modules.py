"""The network families against published parameter counts, hand-computed values and the
invariances their masks promise; every entry of NETWORKS forward and backward on CPU and CUDA."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from sige_rl.supervised.autoencoder import VAE, Autoencoder, vae_loss
from sige_rl.supervised.backbones import GENERATIVE, NETWORKS, make_network
from sige_rl.supervised.cnn import BasicBlock, MnistCNN, ResNet, SmallVGG
from sige_rl.supervised.gan import DCGANDiscriminator, DCGANGenerator, dcgan_stages
from sige_rl.supervised.recurrent import SequenceModel
from sige_rl.supervised.transformer import (
    AttentionTextClassifier,
    PositionalEncoding,
    TransformerEncoder,
)


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def close(a, b, **kw):
    torch.testing.assert_close(a, b, **kw)


# --- published and hand-counted parameter numbers ---------------------------------------------


def test_keras_mnist_cnn_parameter_count():
    """Keras' examples/mnist_cnn.py model.summary(): 1,199,882 trainable parameters."""
    net = make_network("mnist_cnn", (1, 28, 28), out_dim=10)
    assert n_params(net) == 1_199_882
    assert sum(isinstance(m, nn.Dropout) for m in net.modules()) == 2


def test_keras_mnist_mlp_parameter_count():
    """Keras' examples/mnist_mlp.py: Dense 512, Dense 512, Dense 10 with dropout 0.2: 669,706."""
    net = make_network("mlp", (784,), out_dim=10, hidden=(512, 512), dropout=0.2)
    assert n_params(net) == 669_706
    assert [m.p for m in net.modules() if isinstance(m, nn.Dropout)] == [0.2, 0.2]


def test_mnist1d_convbase_parameter_count():
    """Greydanus 2020's ConvBase on 40-sample signals, 25 channels, 10 classes: lengths
    40 -> 19 -> 10 -> 5 (its linear_in = 125); conv 1*25*5+25, twice 25*25*3+25, linear."""
    net = make_network("cnn1d", (1, 40), out_dim=10)
    assert net.body.out_dim == 25 * 5 == 125
    assert n_params(net) == 150 + 2 * 1900 + (125 * 10 + 10) == 5210
    x = torch.randn(3, 40)  # (batch, L) is one channel
    close(net(x), net(x.unsqueeze(1)))


def test_mnist_cnn_on_8x8_digits():
    """8 -> 6 -> 4 -> pooled 2: the hidden layer reads 64 * 2 * 2 = 256 features."""
    net = MnistCNN((1, 8, 8))
    assert net.fc[0].in_features == 256
    assert MnistCNN((1, 8, 8), padding=1).fc[0].in_features == 64 * 4 * 4
    with pytest.raises(ValueError, match="at least 6x6"):
        MnistCNN((1, 5, 5))


def test_small_vgg_parameter_count_by_hand():
    net = SmallVGG((1, 8, 8), channels=(4, 8), convs_per_block=2, features_dim=16)
    convs = 1 * 4 * 9 + 4 * 4 * 9 + 4 * 8 * 9 + 8 * 8 * 9  # no conv bias before BatchNorm
    bns = 2 * (4 + 4 + 8 + 8)
    linear = 8 * 2 * 2 * 16 + 16  # 8 -> 4 -> 2 after two pools
    assert n_params(net) == convs + bns + linear == 1620
    plain = SmallVGG((1, 8, 8), channels=(4, 8), features_dim=16, batch_norm=False)
    assert n_params(plain) == convs + (4 + 4 + 8 + 8) + linear
    assert sum(isinstance(m, nn.MaxPool2d) for m in net.modules()) == 2


# --- ResNet ----------------------------------------------------------------------------------


def test_basic_block_with_a_zeroed_last_batch_norm_is_relu():
    """With bn2's weight and bias at 0 the residual branch is 0: the block is relu(x), the
    identity on non-negative input."""
    torch.manual_seed(0)
    block = BasicBlock(4)
    assert n_params(block) == 2 * (4 * 4 * 9) + 2 * (2 * 4)
    nn.init.zeros_(block.bn2.weight)
    nn.init.zeros_(block.bn2.bias)
    x = torch.randn(2, 4, 5, 5)
    close(block(x), x.clamp(min=0))
    close(block(x.abs()), x.abs())
    nn.init.ones_(block.bn2.weight)
    assert not torch.allclose(block(x.abs()), x.abs())


def test_resnet_tower_keeps_the_board_and_pools_it():
    torch.manual_seed(0)
    net = ResNet((3, 7, 9), channels=8, blocks=3).eval()
    x = torch.randn(2, 3, 7, 9)
    tower = net.tower(x)
    assert tower.shape == (2, *net.tower_shape) == (2, 8, 7, 9)
    assert sum(isinstance(m, BasicBlock) for m in net.modules()) == 3
    close(net(x), tower.mean(dim=(2, 3)))  # global average pooling by hand
    flat = ResNet((3, 7, 9), channels=8, blocks=1, features_dim=32)
    assert flat.out_dim == 32 and flat.fc[1].in_features == 8 * 7 * 9


# --- sequences -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_many_to_one_with_lengths_equals_the_unpadded_sequence_alone(kind, bidirectional):
    torch.manual_seed(0)
    net = SequenceModel((6, 3), kind=kind, hidden=5, layers=2, bidirectional=bidirectional)
    x = torch.randn(3, 6, 3)
    lengths = torch.tensor([6, 4, 1])
    x[1, 4:], x[2, 1:] = 100.0, -100.0  # garbage in the padding
    y = net(x, lengths=lengths)
    assert y.shape == (3, 5 * (2 if bidirectional else 1)) == (3, net.out_dim)
    for i, n in enumerate(lengths.tolist()):
        close(y[i], net(x[i : i + 1, :n])[0])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_final_state_is_the_last_output_forward_and_the_first_backward(kind):
    """A bidirectional RNN's summary: forward half = output at step T, backward half = output
    at step 1 (the backward pass ends there)."""
    torch.manual_seed(0)
    one = SequenceModel((6, 3), kind=kind, hidden=4, bidirectional=True)
    many = SequenceModel((6, 3), kind=kind, hidden=4, bidirectional=True, many_to_many=True)
    many.load_state_dict(one.state_dict())
    x = torch.randn(2, 6, 3)
    out = many(x)
    assert out.shape == (2, 6, 8)
    close(one(x), torch.cat([out[:, -1, :4], out[:, 0, 4:]], dim=1))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_many_to_many_with_lengths_is_zero_past_each_length(kind):
    torch.manual_seed(0)
    net = SequenceModel((7, 2), kind=kind, hidden=4, many_to_many=True)
    x = torch.randn(2, 7, 2)
    out = net(x, lengths=torch.tensor([7, 3]))
    assert out.shape == (2, 7, 4)
    close(out[1, 3:], torch.zeros(4, 4))
    close(out[1, :3], net(x[1:, :3])[0])
    close(out[0], net(x[:1])[0])


def test_one_feature_sequences_may_come_without_the_feature_axis():
    net = SequenceModel((40, 1), kind="gru", hidden=6)
    x = torch.randn(3, 40)
    close(net(x), net(x.unsqueeze(-1)))


def test_positional_encoding_equals_the_formula():
    """Vaswani et al. 2017, 3.5: PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos."""
    pe = PositionalEncoding(4, max_len=10).pe
    close(pe[0], torch.tensor([0.0, 1.0, 0.0, 1.0]))
    for pos in (1, 5, 9):  # 10000^(0/4) = 1, 10000^(2/4) = 100
        want = [math.sin(pos), math.cos(pos), math.sin(pos / 100), math.cos(pos / 100)]
        close(pe[pos], torch.tensor(want))
    odd = PositionalEncoding(5, max_len=4).pe  # sin columns 0, 2, 4 (10000^(4/5) = 1584.89...)
    close(odd[3, 4], torch.tensor(math.sin(3 / 10000 ** (4 / 5))))
    x = torch.zeros(2, 3, 4)
    close(PositionalEncoding(4, max_len=10)(x), pe[:3].expand(2, 3, 4))


def small_transformer(**kw):
    torch.manual_seed(0)
    kw = {"d_model": 16, "nhead": 2, "dim_feedforward": 32, "dropout": 0.0, **kw}
    return TransformerEncoder((6, 3), **kw).eval()


@pytest.mark.parametrize("t", [0, 2, 4])
def test_causal_outputs_ignore_the_future(t):
    x = torch.randn(2, 6, 3)
    later = x.clone()
    later[:, t + 1 :] = torch.randn(2, 5 - t, 3)
    causal = small_transformer(causal=True, pooling="none")
    close(causal(later)[:, : t + 1], causal(x)[:, : t + 1])
    assert not torch.allclose(causal(later)[:, t + 1 :], causal(x)[:, t + 1 :])
    full = small_transformer(pooling="none")  # the check can fail: without the mask it does
    assert not torch.allclose(full(later)[:, : t + 1], full(x)[:, : t + 1])


def test_padding_mask_hides_padded_inputs_and_mean_pools_over_the_rest():
    lengths = torch.tensor([6, 4, 2])
    mask = torch.arange(6) >= lengths[:, None]  # True at padded positions
    x = torch.randn(3, 6, 3)
    other = torch.where(mask[..., None], torch.randn(3, 6, 3) * 50, x)
    none = small_transformer(pooling="none")
    h, h2 = none(x, padding_mask=mask), none(other, padding_mask=mask)
    close(h[~mask], h2[~mask])
    mean, last = small_transformer(pooling="mean"), small_transformer(pooling="last")
    close(mean(x, padding_mask=mask), mean(other, padding_mask=mask))
    for i, n in enumerate(lengths.tolist()):  # pooled by hand from the unpooled output
        close(mean(x, padding_mask=mask)[i], h[i, :n].mean(0))
        close(last(x, padding_mask=mask)[i], h[i, n - 1])
    pooled = mean(x, padding_mask=mask)
    with torch.no_grad():  # torch's inference fast path agrees
        close(mean(x, padding_mask=mask), pooled.detach())
        close(none(other, padding_mask=mask)[~mask], h[~mask].detach())
    cls = small_transformer(pooling="cls")
    close(cls(x, padding_mask=mask), cls(other, padding_mask=mask))
    assert not torch.allclose(mean(x), mean(other))  # unmasked, the padding counts


def test_causal_cls_is_refused():
    with pytest.raises(ValueError, match="cls token would see only itself"):
        TransformerEncoder((6, 3), causal=True, pooling="cls")


def test_text_classifier_attention_skips_padding():
    torch.manual_seed(0)
    net = AttentionTextClassifier(30, embed_dim=16, max_len=12, nhead=2, dropout=0.0).eval()
    tokens = torch.tensor([[5, 7, 9, 0, 0, 0], [1, 2, 3, 4, 5, 6], [8, 0, 0, 0, 0, 0]])
    y = net(tokens)
    w = net.last_attention
    assert w.shape == (3, 6)
    close(w.sum(1), torch.ones(3))
    assert (w[0, 3:] == 0).all() and (w[0, :3] > 0).all()
    close(w[2], torch.tensor([1.0, 0, 0, 0, 0, 0]))  # one token takes all the weight
    longer = torch.cat([tokens, torch.zeros(3, 5, dtype=torch.long)], dim=1)
    close(net(longer), y)  # more padding changes nothing
    assert not torch.allclose(net(tokens.clamp(min=1)), y)  # un-padded, it would


# --- DCGAN -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "stages"), [((1, 8, 8), 2), ((1, 28, 28), 2), ((3, 32, 32), 3), ((3, 64, 64), 4)]
)
def test_dcgan_shapes_and_paper_guidelines(shape, stages):
    assert dcgan_stages(*shape[1:]) == stages
    g, d = DCGANGenerator(8, shape, base_channels=8), DCGANDiscriminator(shape, base_channels=8)
    z = torch.randn(5, 8) * 10
    x = g(z)
    assert x.shape == (5, *shape) and x.min() >= -1 and x.max() <= 1
    assert d(x).shape == (5,)
    for net in (g, d):
        assert not any(isinstance(m, nn.MaxPool2d | nn.AvgPool2d) for m in net.modules())
        assert sum(isinstance(m, nn.Linear) for m in net.modules()) == 1
        convs = [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
        assert len(convs) == stages and all(c.stride == (2, 2) for c in convs)
    assert isinstance(g.net[0], nn.Linear) and isinstance(d.net[-1], nn.Linear)
    assert isinstance(g.net[-2], nn.ConvTranspose2d) and isinstance(g.net[-1], nn.Tanh)
    assert isinstance(d.net[0], nn.Conv2d) and isinstance(d.net[1], nn.LeakyReLU)
    assert {m.negative_slope for m in d.modules() if isinstance(m, nn.LeakyReLU)} == {0.2}
    assert not any(isinstance(m, nn.ReLU) for m in d.modules())
    assert not any(isinstance(m, nn.LeakyReLU) for m in g.modules())
    bn_g = sum(isinstance(m, nn.BatchNorm2d) for m in g.modules())
    bn_d = sum(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    assert bn_g == stages and bn_d == stages - 1  # all but G's output and D's input layer


def test_dcgan_parameter_counts_by_hand():
    """8x8: 2 stages. G from a 2x2x16 start; D 8 -> 16 channels, 2x2, one logit."""
    g = DCGANGenerator(4, (1, 8, 8), base_channels=8)
    assert n_params(g) == 4 * 64 + 2 * 16 + 16 * 8 * 16 + 2 * 8 + (8 * 1 * 16 + 1) == 2481
    d = DCGANDiscriminator((1, 8, 8), base_channels=8)
    assert n_params(d) == (1 * 8 * 16 + 8) + 8 * 16 * 16 + 2 * 16 + (16 * 4 + 1) == 2281


def test_dcgan_init_is_normal_with_std_002():
    torch.manual_seed(0)
    g = DCGANGenerator(100, (3, 64, 64))
    w = g.net[4].weight  # ConvTranspose2d 512 -> 256, 4x4: 2M weights
    assert w.numel() > 2_000_000
    assert abs(w.std().item() - 0.02) < 2e-4 and abs(w.mean().item()) < 2e-4
    bn = torch.cat([m.weight for m in g.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(bn.mean().item() - 1) < 3e-3 and abs(bn.std().item() - 0.02) < 3e-3
    assert all((m.bias == 0).all() for m in g.modules() if getattr(m, "bias", None) is not None)


def test_dcgan_refuses_odd_sizes():
    with pytest.raises(ValueError, match="even image side"):
        DCGANGenerator(8, (1, 7, 7))


# --- autoencoders ----------------------------------------------------------------------------


def test_vae_loss_against_the_closed_form():
    logits, x = torch.zeros(2, 1, 4, 4), torch.rand(2, 1, 4, 4)
    zero = torch.zeros(2, 3)
    total, recon, kl = vae_loss(logits, x, zero, zero)
    close(recon, torch.tensor(16 * math.log(2)))  # BCE(logit 0, any x) = ln 2 a pixel
    close(kl, torch.tensor(0.0))
    close(total, recon)
    # 1-D: KL(N(1, 2) || N(0, 1)) = (sigma^2 + mu^2 - 1 - ln sigma^2) / 2 = 1 - ln(2) / 2
    mu, logvar = torch.tensor([[1.0], [0.0]]), torch.tensor([[math.log(2)], [0.0]])
    total, recon, kl = vae_loss(torch.zeros(2, 1), torch.ones(2, 1), mu, logvar, beta=0.5)
    close(kl, torch.tensor((1 - math.log(2) / 2) / 2))  # averaged over the two samples
    close(total, recon + 0.5 * kl)


def test_vae_reparameterisation_is_reproducible_and_eval_uses_the_mean():
    torch.manual_seed(0)
    vae = VAE((1, 4, 4), latent_dim=3, hidden=(8,))
    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    z = vae.reparameterize(mu, logvar, torch.Generator().manual_seed(7))
    close(z, vae.reparameterize(mu, logvar, torch.Generator().manual_seed(7)), rtol=0, atol=0)
    eps = torch.randn(5, 3, generator=torch.Generator().manual_seed(7))
    close(z, mu + torch.exp(logvar / 2) * eps)
    x = torch.rand(5, 1, 4, 4)
    recon, mu_x, logvar_x = vae(x)
    assert recon.shape == x.shape and mu_x.shape == logvar_x.shape == (5, 3)
    vae.eval()
    close(vae(x)[0], vae.decode(vae.encode(x)[0]))
    s = vae.sample(6, torch.Generator().manual_seed(1))
    assert s.shape == (6, 1, 4, 4) and s.min() >= 0 and s.max() <= 1
    close(s, vae.sample(6, torch.Generator().manual_seed(1)))


def test_autoencoder_learns_to_reconstruct_patterns():
    torch.manual_seed(0)
    x = (torch.rand(8, 1, 6, 6) > 0.5).float()
    ae = Autoencoder((1, 6, 6), latent_dim=4, hidden=(32,))
    assert ae.encode(x).shape == (8, 4) and ae.decode(ae.encode(x)).shape == x.shape
    opt = torch.optim.Adam(ae.parameters(), lr=1e-2)
    for _ in range(150):
        loss = nn.functional.binary_cross_entropy_with_logits(ae(x), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert ((ae(x) > 0).float() == x).all()  # every pixel of every pattern, from 4 numbers


# --- every network, forward and backward ------------------------------------------------------

SMALL = {  # name: (in_shape, kw, out_dim)
    "mlp": ((1, 8, 8), {"hidden": (16,)}, 3),
    "mnist_cnn": ((1, 8, 8), {"channels": (4, 8), "features_dim": 16}, 3),
    "vgg": ((1, 8, 8), {"channels": (4, 8), "features_dim": 16}, 3),
    "resnet": ((2, 5, 5), {"channels": 8, "blocks": 2}, 3),
    "nature_cnn": ((1, 36, 36), {"features_dim": 16}, 3),
    "impala_cnn": ((3, 8, 8), {"channels": (4, 8), "features_dim": 16}, 3),
    "minatar_cnn": ((2, 5, 5), {"channels": 4, "features_dim": 16}, 3),
    "cnn1d": ((1, 40), {"channels": 6}, 3),
    "lstm": ((6, 3), {"hidden": 8, "layers": 2, "bidirectional": True}, 3),
    "gru": ((6, 3), {"hidden": 8, "many_to_many": True}, 3),
    "transformer": (
        (6, 3),
        {"d_model": 16, "nhead": 2, "dim_feedforward": 32, "pooling": "cls"},
        3,
    ),
    "text_classifier": ((7,), {"vocab_size": 20, "embed_dim": 16, "nhead": 2}, 3),
    "autoencoder": ((1, 8, 8), {"latent_dim": 4, "hidden": (16,)}, None),
    "vae": ((1, 8, 8), {"latent_dim": 4, "hidden": (16,)}, None),
    "dcgan_generator": ((1, 8, 8), {"z_dim": 8, "base_channels": 8}, None),
    "dcgan_discriminator": ((1, 8, 8), {"base_channels": 8}, None),
}
LENGTHS = [6, 3, 1, 4]


def test_every_network_has_a_case():
    assert set(SMALL) == set(NETWORKS)
    assert all((out is None) == (name in GENERATIVE) for name, (_, _, out) in SMALL.items())


def loss_of(name: str, net: nn.Module, device: str) -> torch.Tensor:
    """A scalar loss through every parameter of ``net`` on a batch of 4."""
    shape, kw, _ = SMALL[name]
    x = torch.rand(4, *shape, device=device)
    if name in ("lstm", "gru"):
        return net(x, lengths=torch.tensor(LENGTHS)).float().square().mean()
    if name == "transformer":
        mask = torch.arange(6, device=device) >= torch.tensor(LENGTHS, device=device)[:, None]
        return net(x, padding_mask=mask).float().square().mean()
    if name == "text_classifier":
        tokens = torch.randint(1, kw["vocab_size"], (4, 7), device=device)
        tokens[1, 5:] = 0
        return net(tokens).float().square().mean()
    if name == "vae":
        recon, mu, logvar = net(x)
        return vae_loss(recon, x, mu, logvar)[0]
    if name == "autoencoder":
        return nn.functional.binary_cross_entropy_with_logits(net(x).float(), x)
    if name == "dcgan_generator":
        return net(torch.randn(4, kw["z_dim"], device=device)).float().square().mean()
    if name == "dcgan_discriminator":
        logits = net(x * 2 - 1).float()
        return nn.functional.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    return net(x).float().square().mean()


def build(name: str) -> nn.Module:
    torch.manual_seed(0)
    shape, kw, out_dim = SMALL[name]
    return make_network(name, shape, out_dim, **kw)


def finite_grads(net: nn.Module, device: str) -> bool:
    grads = [p.grad for p in net.parameters()]
    return all(g is not None and g.device.type == device and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", list(SMALL))
def test_forward_backward_on_cpu(name):
    net = build(name)
    loss = loss_of(name, net, "cpu")
    loss.backward()
    assert torch.isfinite(loss) and finite_grads(net, "cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", list(SMALL))
def test_forward_backward_on_cuda_under_fp16_autocast(name):
    net = build(name).cuda()
    opt = torch.optim.SGD(net.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cuda")
    for _ in range(10):  # an overflowing step is skipped and the scale halved: try again
        opt.zero_grad()
        with torch.autocast("cuda", dtype=torch.float16):
            loss = loss_of(name, net, "cuda")
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        ok = finite_grads(net, "cuda")
        scaler.step(opt)
        scaler.update()
        if ok:
            break
    assert torch.isfinite(loss) and ok


def test_text_classifier_learns_whether_a_keyword_occurs_and_attends_to_it():
    """Token sequences of random length (padded with 0); the label is whether token 7 occurs.
    Attention pooling should find the keyword: the learned weights peak on it."""
    from sige_rl.supervised.fit import ClassifierFit, FitConfig

    rng = np.random.default_rng(0)
    n, steps = 1200, 12
    tokens = rng.integers(8, 30, (n, steps))
    lengths = rng.integers(4, steps + 1, n)
    y = rng.integers(0, 2, n)
    where = (rng.random(n) * lengths).astype(int)
    tokens[y == 1, where[y == 1]] = 7
    tokens[np.arange(steps) >= lengths[:, None]] = 0  # padding
    torch.manual_seed(0)
    model = make_network("text_classifier", (steps,), 2, vocab_size=30, embed_dim=32)
    loop = ClassifierFit(model, FitConfig(device="cpu", epochs=8, lr=3e-3), seed=0)
    loop.fit((tokens[:1000], y[:1000]))
    assert loop.report_metrics((tokens[1000:], y[1000:]))["accuracy"] >= 0.95
    positive = torch.as_tensor(tokens[1000:][y[1000:] == 1])
    model.eval()
    with torch.no_grad():
        model(positive)
    attention = model.body.last_attention
    keyword, other = positive == 7, (positive != 7) & (positive != 0)
    assert attention[keyword].mean() > 3 * attention[other].mean()
