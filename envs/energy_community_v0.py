"""``sige/EnergyCommunity-v0`` in PettingZoo's module convention.

``parallel_env(**kwargs)`` is :class:`~sige_rl.envs.building.community.EnergyCommunityEnv` (a
``ParallelEnv``); ``env(**kwargs)`` its AEC form, wrapped as PettingZoo wraps its continuous
envs (out-of-bounds actions are clipped with a warning, the call order is enforced);
``raw_env(**kwargs)`` the AEC form without the clipping. The keyword arguments are the
ParallelEnv's.

Importing this module also registers the id with PettingZoo's registry (1.27+), so that
``pettingzoo.make("parallel", "sige/EnergyCommunity-v0")`` and ``pettingzoo.make("aec", ...)``
work afterwards. ``sige_rl.envs.MULTI_AGENT_IDS`` names the factory without importing
PettingZoo.
"""

from __future__ import annotations

from pettingzoo.utils import wrappers
from pettingzoo.utils.conversions import parallel_to_aec

from sige_rl.envs.building.community import EnergyCommunityEnv

__all__ = ["ENV_ID", "EnergyCommunityEnv", "env", "parallel_env", "raw_env"]

ENV_ID = "sige/EnergyCommunity-v0"


def parallel_env(**kwargs) -> EnergyCommunityEnv:
    """The community as a PettingZoo ``ParallelEnv``."""
    return EnergyCommunityEnv(**kwargs)


def raw_env(**kwargs):
    """The AEC form: ``parallel_to_aec`` (which enforces the call order) of the ParallelEnv."""
    return parallel_to_aec(parallel_env(**kwargs))


def env(**kwargs):
    """The AEC form with PettingZoo's wrappers for continuous actions."""
    aec = raw_env(**kwargs)
    aec = wrappers.ClipOutOfBoundsWrapper(aec)
    return wrappers.OrderEnforcingWrapper(aec)


def _register() -> None:
    try:
        from pettingzoo.env_registry.registration import (
            aec_registry,
            parallel_registry,
            register,
        )
    except ImportError:  # PettingZoo before 1.27 has no registry
        return
    for kind, registry, factory in (
        ("parallel", parallel_registry, "parallel_env"),
        ("aec", aec_registry, "env"),
    ):
        if ENV_ID not in registry:  # re-import or importlib.reload: keep the first
            register(kind, ENV_ID, entry_point=f"{__name__}:{factory}")


_register()
