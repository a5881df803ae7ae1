"""Transfer learning: which layers freezing by name or depth reaches, frozen batch norm kept in
inference mode, heads replaced, and a frozen feature extractor; the ensemble's soft vote on
hand-made probabilities."""

import numpy as np
import pytest
import torch
from torch import nn

from sige_rl.supervised.backbones import make_network
from sige_rl.supervised.ensemble import Ensemble, average_probabilities
from sige_rl.supervised.transfer import (
    FeatureExtractor,
    freeze,
    frozen_layers,
    layers,
    replace_head,
    train_mode,
    unfreeze,
)


def mlp():
    torch.manual_seed(0)
    return make_network("mlp", (4,), 3, hidden=[8, 8], norm="batch")


def trainable(model):
    return {n for n, p in model.named_parameters() if p.requires_grad}


def test_layers_are_the_modules_owning_parameters_input_first():
    names = [n for n, _ in layers(mlp())]
    # Linear, BatchNorm, Linear, BatchNorm of the body, then the head
    assert names == [
        "body.1.net.0",
        "body.1.net.1",
        "body.1.net.3",
        "body.1.net.4",
        "head",
    ]


def test_freeze_by_depth_then_unfreeze_from_the_top():
    model = mlp()
    assert freeze(model, depth=3) == ["body.1.net.0", "body.1.net.1", "body.1.net.3"]
    assert trainable(model) == {
        "body.1.net.4.weight",
        "body.1.net.4.bias",
        "head.weight",
        "head.bias",
    }
    assert unfreeze(model, depth=2) == ["body.1.net.4", "head"]  # already trainable: no change
    assert unfreeze(model, depth=3) == ["body.1.net.3", "body.1.net.4", "head"]
    assert frozen_layers(model) == ["body.1.net.0", "body.1.net.1"]


def test_freeze_by_name_prefix_and_errors_list_the_layers():
    model = mlp()
    freeze(model, "body")
    assert trainable(model) == {"head.weight", "head.bias"}
    with pytest.raises(ValueError, match="no layer named 'bodyy'; layers: body.1.net.0"):
        freeze(model, "bodyy")
    with pytest.raises(ValueError, match="either names"):
        freeze(model)
    with pytest.raises(ValueError, match=r"depth must be in \[0, 5\]"):
        freeze(model, depth=6)


def test_frozen_batch_norm_normalises_with_its_running_statistics_in_train_mode():
    model = mlp()
    freeze(model, "body")
    train_mode(model)
    bn = model.body[1].net[1]
    assert not bn.training and model.training  # inference mode inside a training network
    mean = bn.running_mean.clone()
    model(torch.randn(16, 4) * 5 + 3)
    assert torch.equal(bn.running_mean, mean)
    unfreeze(model, "body")
    train_mode(model)
    assert bn.training


def test_replace_head_gives_a_fresh_trainable_layer_of_the_new_width():
    model = mlp()
    freeze(model, "body")
    new = replace_head(model, 7)
    assert model.head is new and model(torch.randn(2, 4)).shape == (2, 7)
    assert trainable(model) == {"head.weight", "head.bias"}
    plain = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))
    replace_head(plain, 6)  # no Network: the last Linear is the head
    assert plain(torch.randn(3, 4)).shape == (3, 6) and plain[2].in_features == 5


def test_feature_extractor_is_the_frozen_body_in_eval_mode():
    model = mlp()
    x = torch.randn(5, 4)
    fx = FeatureExtractor(model)
    fx.train()
    assert not fx.body.training and not any(p.requires_grad for p in fx.parameters())
    model.eval()
    assert torch.equal(fx(x), model.body(x)) and fx.out_dim == 8


def test_soft_vote_of_hand_made_members():
    y = np.array([0, 1, 2])
    # each member is wrong, and confidently so, on a different sample; the average is right on all
    a = np.array([[0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    b = np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [0.1, 0.1, 0.8]])
    c = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.8, 0.1, 0.1]])
    avg = average_probabilities([a, b, c])
    assert avg[0] == pytest.approx([1.7 / 3, 1.0 / 3, 0.1])
    assert (avg.argmax(1) == y).all() and all((m.argmax(1) == y).mean() < 1 for m in (a, b, c))
    weighted = average_probabilities([a, b], weights=[3, 1])
    assert weighted[1] == pytest.approx([0.1, 0.625, 0.275])
    with pytest.raises(ValueError, match="non-negative"):
        average_probabilities([a, b], weights=[1, -1])


def test_ensemble_module_averages_the_members_softmax():
    torch.manual_seed(0)
    members = [nn.Linear(4, 3) for _ in range(3)]
    x = torch.randn(6, 4)
    expected = sum(torch.softmax(m(x), 1) for m in members) / 3
    assert torch.allclose(Ensemble(members)(x), expected)
    assert torch.allclose(Ensemble(members)(x).sum(1), torch.ones(6))
