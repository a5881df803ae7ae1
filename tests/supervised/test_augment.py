"""supervised.augment against independent references: shifts against torch.roll with the
wrapped part zeroed and a hand-made 3x3 case, rotations against torch.rot90 and
scipy.ndimage.rotate, the noise's standard deviation, reproducibility from the generator."""

import numpy as np
import pytest
import torch

from sige_rl.supervised.augment import (
    Compose,
    GaussianNoise,
    RandomRotation,
    RandomShift,
    make_augmentation,
    rotate,
    shift,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _rolled(x: torch.Tensor, s: int, dim: int) -> torch.Tensor:
    """torch.roll with the wrapped-around part zeroed: the reference shift."""
    out = torch.roll(x, s, dims=dim)
    n = x.shape[dim]
    if s > 0:
        out.narrow(dim, 0, min(s, n)).zero_()
    elif s < 0:
        out.narrow(dim, max(n + s, 0), min(-s, n)).zero_()
    return out


def test_shift_hand_3x3():
    x = torch.arange(1.0, 10.0).view(1, 1, 3, 3)  # [[1 2 3] [4 5 6] [7 8 9]]
    down_left = shift(x, torch.tensor([[1, -1]]))  # one row down, one column left
    assert down_left[0, 0].tolist() == [[0, 0, 0], [2, 3, 0], [5, 6, 0]]
    assert shift(x, torch.tensor([[0, 0]]))[0, 0].tolist() == x[0, 0].tolist()
    assert shift(x, torch.tensor([[-3, 0]])).abs().sum() == 0  # shifted off the image


def test_shift_matches_roll_per_sample():
    rng = torch.Generator().manual_seed(1)
    images = torch.rand(5, 2, 6, 7, generator=rng)
    shifts = torch.tensor([[0, 0], [1, -2], [-3, 4], [6, 0], [-1, -7]])
    out = shift(images, shifts)
    for i, (sr, sc) in enumerate(shifts.tolist()):
        ref = _rolled(_rolled(images[i], sr, -2), sc, -1)
        torch.testing.assert_close(out[i], ref, rtol=0, atol=0)
    signals = torch.rand(4, 3, 10, generator=rng)
    shifts = torch.tensor([[2], [-1], [0], [-9]])
    out = shift(signals, shifts)
    for i, s in enumerate(shifts[:, 0].tolist()):
        torch.testing.assert_close(out[i], _rolled(signals[i], s, -1), rtol=0, atol=0)


def test_random_shift_is_per_sample_and_bounded():
    x = torch.zeros(64, 1, 9)
    x[:, :, 4] = 1.0  # a spike in the middle shows the shift
    out = RandomShift(2)(x, _gen())
    position = out[:, 0].argmax(1) - 4
    assert out.sum() == 64 and position.abs().max() <= 2
    assert set(position.tolist()) == {-2, -1, 0, 1, 2}
    images = torch.zeros(64, 1, 7, 7)
    images[:, :, 3, 3] = 1.0
    out = RandomShift(1)(images, _gen())
    rows, cols = (out[:, 0] == 1).nonzero()[:, 1:].T
    assert len(rows) == 64 and set(rows.tolist()) == set(cols.tolist()) == {2, 3, 4}
    assert not torch.equal(rows, cols)  # rows and columns drawn independently


def test_rotate_90_matches_rot90_counter_clockwise():
    x = torch.rand(3, 2, 7, 7, generator=_gen(2))
    out = rotate(x, torch.full((3,), 90.0))
    torch.testing.assert_close(out, torch.rot90(x, 1, dims=(-2, -1)), rtol=0, atol=1e-5)
    out = rotate(x, torch.tensor([-90.0, 180.0, 0.0]))
    torch.testing.assert_close(out[0], torch.rot90(x[0], -1, dims=(-2, -1)), rtol=0, atol=1e-5)
    torch.testing.assert_close(out[1], torch.rot90(x[1], 2, dims=(-2, -1)), rtol=0, atol=1e-5)
    torch.testing.assert_close(out[2], x[2], rtol=0, atol=1e-6)
    # the convention by hand: counter-clockwise as displayed, row 0 at the top
    corner = torch.zeros(1, 1, 3, 3)
    corner[0, 0, 0, 2] = 1.0  # top right
    assert rotate(corner, torch.tensor([90.0]))[0, 0, 0, 0] > 0.999  # goes to the top left


@pytest.mark.parametrize("shape", [(32, 32), (24, 32)])
def test_rotate_small_angle_matches_scipy(shape):
    ndimage = pytest.importorskip("scipy.ndimage")
    h, w = shape
    r, c = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    image = np.exp(-(((r - 0.45 * h) / 6.0) ** 2) - ((c - 0.55 * w) / 8.0) ** 2)
    image += 0.3 * np.sin(r / 4.0) * np.cos(c / 5.0)
    ref = ndimage.rotate(image, 10.0, reshape=False, order=1)
    x = torch.tensor(image, dtype=torch.float64)[None, None]
    out = rotate(x, torch.tensor([10.0], dtype=torch.float64))[0, 0].numpy()
    inner = (slice(5, h - 5), slice(5, w - 5))
    np.testing.assert_allclose(out[inner], ref[inner], atol=1e-9)
    # and not the opposite direction
    wrong = ndimage.rotate(image, -10.0, reshape=False, order=1)
    assert np.abs(out[inner] - wrong[inner]).max() > 0.05


def test_random_rotation_angles_in_range():
    x = torch.zeros(200, 1, 33, 33)
    x[:, :, 16, 26] = 1.0  # a dot 10 px right of the centre
    out = RandomRotation(30)(x, _gen(3))
    rows = torch.arange(33.0)[:, None]
    cols = torch.arange(33.0)[None, :]
    mass = out[:, 0].sum((1, 2))
    dy = (out[:, 0] * rows).sum((1, 2)) / mass - 16
    dx = (out[:, 0] * cols).sum((1, 2)) / mass - 16
    angle = torch.rad2deg(torch.atan2(-dy, dx))  # counter-clockwise, y up
    assert angle.abs().max() < 30.5 and angle.min() < -20 and angle.max() > 20


def test_gaussian_noise_std():
    x = torch.full((64, 1, 32, 32), 3.0)
    noisy = GaussianNoise(0.05)(x, _gen(4))
    d = noisy - x
    assert abs(d.mean().item()) < 0.05 * 5 / 256  # five standard errors
    assert abs(d.std().item() - 0.05) < 0.05 * 0.02
    assert GaussianNoise(0.0)(x, _gen()).equal(x)


@pytest.mark.parametrize(
    "aug",
    [
        RandomShift(2),
        RandomRotation(15),
        GaussianNoise(0.1),
        make_augmentation("shift=1,rotate=10"),
    ],
)
def test_reproducible_and_input_untouched(aug):
    x = torch.rand(8, 1, 8, 8, generator=_gen(5))
    before, global_state = x.clone(), torch.get_rng_state()
    a = aug(x, _gen(7))
    b = aug(x, _gen(7))
    assert torch.equal(torch.get_rng_state(), global_state)  # the global generator untouched
    assert torch.equal(a, b)
    assert not torch.equal(a, aug(x, _gen(8)))
    assert torch.equal(x, before) and a.data_ptr() != x.data_ptr()
    g = _gen(7)  # the generator's state resumes the stream (a checkpointed loop)
    aug(x, g)
    state = g.get_state()
    c = aug(x, g)
    g2 = torch.Generator()
    g2.set_state(state)
    assert torch.equal(c, aug(x, g2))


def test_make_augmentation():
    assert make_augmentation(None) is None
    assert make_augmentation("") is None and make_augmentation("  ") is None
    assert make_augmentation("noise=0") is None
    aug = make_augmentation(" noise=0.05, shift=1 ,rotate=10")
    assert isinstance(aug, Compose)
    kinds = [type(a) for a in aug.augmentations]
    assert kinds == [RandomRotation, RandomShift, GaussianNoise]
    assert aug.augmentations[1].max_shift == 1 and aug.augmentations[2].std == 0.05
    x = torch.rand(2, 1, 8, 8, generator=_gen())
    g1, g2 = _gen(9), _gen(9)
    expected = x
    for a in aug.augmentations:
        expected = a(expected, g2)
    assert torch.equal(aug(x, g1), expected)
    with pytest.raises(ValueError, match="allowed: rotate, shift, noise"):
        make_augmentation("flip=1")
    with pytest.raises(ValueError, match="whole pixels"):
        make_augmentation("shift=1.5")
    with pytest.raises(ValueError, match="not a number"):
        make_augmentation("noise=a")
    with pytest.raises(ValueError, match="key=value"):
        make_augmentation("shift")
    with pytest.raises(ValueError, match="twice"):
        make_augmentation("shift=1,shift=2")
    with pytest.raises(ValueError, match=">= 0"):
        make_augmentation("rotate=-5")


def test_shape_errors():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        RandomRotation(10)(torch.zeros(2, 1, 8), _gen())
    with pytest.raises(ValueError, match=r"\(B, C, L\)"):
        RandomShift(1)(torch.zeros(2, 8), _gen())
