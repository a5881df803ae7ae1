import pytest
import torch

from sige_rl.supervised import flush_denormals

SUBNORMAL = 1e-39  # below float32's smallest normal, 1.18e-38
# set_flush_denormal says whether the CPU supports the flag; False is the default it restores.
pytestmark = pytest.mark.skipif(
    not torch.set_flush_denormal(False), reason="this CPU cannot flush subnormals"
)


def test_flush_denormals_treats_subnormals_as_zero_inside_only():
    x = torch.tensor([SUBNORMAL], dtype=torch.float32)
    assert (x * 1.0).item() != 0.0
    with flush_denormals():
        assert (x * 1.0).item() == 0.0
    assert (x * 1.0).item() != 0.0


def test_flush_denormals_is_switched_off_after_an_error_and_as_a_decorator():
    x = torch.tensor([SUBNORMAL], dtype=torch.float32)
    seen = []

    @flush_denormals()
    def fails():
        seen.append((x * 1.0).item())
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fails()
    assert seen == [0.0]
    assert (x * 1.0).item() != 0.0


def test_flush_denormals_restores_the_flag_it_found():
    """Nested, or entered with the flag already on: on exit the flag is as it was on entry."""
    x = torch.tensor([SUBNORMAL], dtype=torch.float32)
    with flush_denormals():
        with flush_denormals():
            pass
        assert (x * 1.0).item() == 0.0  # the inner exit left the outer's flag on
    assert (x * 1.0).item() != 0.0
    torch.set_flush_denormal(True)
    try:
        with flush_denormals():
            pass
        assert (x * 1.0).item() == 0.0  # the caller had it on: it stays on
    finally:
        torch.set_flush_denormal(False)
