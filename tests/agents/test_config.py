"""Hyperparameter resolution: the order of the layers, strict checking of keys and types, and
every tuned YAML entry valid for its agent."""

from dataclasses import dataclass
from importlib import resources
from typing import Literal

import gymnasium as gym
import pytest
import yaml

from sige_rl import agents
from sige_rl.agents.common import registry
from sige_rl.agents.common.config import (
    JOB_KEYS,
    ConfigError,
    coerce,
    parse_sets,
    read_config_file,
    resolve,
    tuned_job_options,
)


@dataclass
class Cfg:
    lr: float = 0.1
    steps: int = 10
    double: bool = False
    final: float | None = None
    loss: Literal["huber", "mse"] = "huber"


def test_layers_apply_in_order(tmp_path):
    cfg = resolve(
        Cfg, ("yaml", {"lr": 0.2, "steps": 20}), ("file", {"lr": 0.3}), ("--set", {"double": True})
    )
    assert cfg == Cfg(lr=0.3, steps=20, double=True)


def test_unknown_key_lists_valid_ones_and_close_match():
    with pytest.raises(ConfigError) as e:
        resolve(Cfg, ("--set", {"lrr": 1}))
    msg = str(e.value)
    assert "'lrr'" in msg and "did you mean 'lr'" in msg and "lr, steps, double, final, loss" in msg


@pytest.mark.parametrize(
    ("value", "hint", "expected"),
    [
        (1, float, 1.0),
        ("1e-3", float, 0.001),
        (1e5, int, 100000),
        (None, float | None, None),
        (0.5, float | None, 0.5),
        ("mse", Literal["huber", "mse"], "mse"),
    ],
)
def test_coerce_accepts(value, hint, expected):
    assert coerce(value, hint, "x") == expected


@pytest.mark.parametrize(
    ("value", "hint", "message"),
    [
        (1.5, int, "must be an integer"),
        ("abc", float, "must be a number"),
        (1, bool, "true or false"),
        (True, int, "must be a number"),
        ("l1", Literal["huber", "mse"], "one of 'huber', 'mse'"),
    ],
)
def test_coerce_refuses(value, hint, message):
    with pytest.raises(ConfigError, match=message):
        coerce(value, hint, "x")


def test_parse_sets_reads_yaml_values():
    assert parse_sets(["a=0.5", "b=true", "c=null", "d=text"]) == {
        "a": 0.5,
        "b": True,
        "c": None,
        "d": "text",
    }
    with pytest.raises(ConfigError, match="key=value"):
        parse_sets(["novalue"])


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_config_file(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        read_config_file(tmp_path / "list.yaml")


# Shipped presets beside the tuned tables, for --config: file stem -> agent.
PRESETS = {"dqn_nature_atari": "dqn"}


def yaml_entries():
    files = [(name, name) for name in agents.names()] + list(PRESETS.items())
    for stem, name in files:
        res = resources.files("sige_rl.agents.hyperparams").joinpath(f"{stem}.yaml")
        if res.is_file():
            for env_id, values in yaml.safe_load(res.read_text()).items():
                yield pytest.param(name, env_id, values, id=f"{stem}:{env_id}")


@pytest.mark.parametrize(("name", "env_id", "values"), list(yaml_entries()))
def test_every_tuned_yaml_entry_is_valid_for_its_agent(name, env_id, values):
    """Each key of each entry is a hyperparameter of the agent (of the right type) or one of the
    job's RL Zoo keys, and the env id is registered (with Gymnasium, or as a multi-agent id)."""
    import sige_rl.envs

    known = env_id in gym.registry or env_id in sige_rl.envs.MULTI_AGENT_IDS
    assert known, f"{name}.yaml names an unknown env {env_id}"
    hyper = {k: v for k, v in values.items() if k not in JOB_KEYS}
    resolve(agents.agent_class(name).Config, (f"{name}.yaml[{env_id}]", hyper))
    for key in set(values) & set(JOB_KEYS):
        assert isinstance(values[key], int) and values[key] >= 1, (key, values[key])


def test_make_layers_the_tuned_entry_under_keywords(monkeypatch):
    """``agents.make``: class defaults < the tuned entry for the env's id < keyword overrides;
    an entry for another env does not apply. (A hand-written entry stands in for the YAML.)"""
    entries = {("q_learning", "FrozenLake-v1"): {"learning_rate": 0.123, "epsilon_final": 0.3}}
    monkeypatch.setattr(registry, "tuned_hyperparams", lambda a, e: entries.get((a, e), {}))
    lake = gym.make("FrozenLake-v1")
    tuned = agents.make("q_learning", lake)
    assert (tuned.config.learning_rate, tuned.config.epsilon_final) == (0.123, 0.3)
    assert tuned.config.gamma == 0.99  # TDConfig's documented default, not in the entry
    both = agents.make("q_learning", lake, learning_rate=0.7)
    assert (both.config.learning_rate, both.config.epsilon_final) == (0.7, 0.3)
    other = agents.make("q_learning", gym.make("CliffWalking-v1"))
    assert other.config.learning_rate == 0.5  # TDConfig's default


def test_job_keys_are_not_hyperparameters():
    """RL Zoo's n_timesteps and n_envs in an entry reach the job, never the agent's Config."""
    assert tuned_job_options("sb3-ppo", "CartPole-v1") == {"n_envs": 8, "n_timesteps": 100_000}
    with pytest.warns(UserWarning, match="tuned for 8 envs"):
        agent = agents.make("sb3-ppo", gym.make("CartPole-v1"))
    assert not hasattr(agent.config, "n_envs")
