from dataclasses import dataclass
from typing import Literal

import pytest

import agents
from agents.config import (
    ConfigError,
    coerce,
    parse_sets,
    read_config_file,
    resolve,
    tuned_hyperparams,
)
from agents.td import TDConfig


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


def test_every_tuned_yaml_entry_is_a_valid_config():
    """Each hyperparams/<agent>.yaml only names keys and values its agent accepts."""
    from importlib import resources

    import yaml

    for name in agents.names():
        res = resources.files("agents.hyperparams").joinpath(f"{name}.yaml")
        if not res.is_file():
            continue
        for env_id, values in yaml.safe_load(res.read_text()).items():
            resolve(agents.agent_class(name).Config, (f"{name}.yaml[{env_id}]", values))


def test_tuned_values_reach_the_agent():
    import gymnasium as gym

    env = gym.make("FrozenLake-v1")
    tuned = tuned_hyperparams("q_learning", "FrozenLake-v1")
    assert tuned, "q_learning.yaml has an entry for FrozenLake-v1"
    agent = agents.make("q_learning", env, seed=0)
    for key, value in tuned.items():
        assert getattr(agent.config, key) == pytest.approx(value)
    assert agents.make("q_learning", env, seed=0, gamma=0.5).config.gamma == 0.5
    assert TDConfig().gamma == 0.99
