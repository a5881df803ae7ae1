"""The README's tables of environments, agents and options cannot drift from the code."""

import re
from pathlib import Path

from sige_rl import agents, envs
from sige_rl.agents.training.cli import build_parser
from sige_rl.supervised import job, tasks

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def first_column(heading: str) -> list[str]:
    section = README.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", section, flags=re.M)


def test_environment_table_lists_every_registered_env():
    assert first_column("Environments") == [
        *envs.ENV_IDS,
        *envs.ATARI_IDS,
        *envs.MINATAR_IDS,
        *envs.POWER_GRID_IDS,
        *envs.POWER_GRID_ALERT_IDS,
        *envs.BUILDING_IDS,
        *envs.MULTI_AGENT_IDS,
        *envs.BOARD_GAME_IDS,
    ]


def test_agent_table_lists_every_agent():
    assert first_column("Agents") == agents.names()


def test_option_table_matches_the_parser():
    documented = {c.split()[0] for c in first_column("Training") if c.startswith("--")}
    actual = {
        opt
        for action in build_parser()._actions
        for opt in action.option_strings
        if opt.startswith("--") and opt != "--help"
    }
    assert documented == actual


def test_readme_shows_the_two_commands():
    assert "make train" in README and "make test" in README


def test_supervised_tables_list_every_task_and_option():
    column = first_column("Supervised learning")
    assert [c for c in column if not c.startswith("--")] == list(tasks.TASKS)
    documented = {c.split()[0] for c in column if c.startswith("--")}
    actual = {
        opt
        for action in job.build_parser()._actions
        for opt in action.option_strings
        if opt.startswith("--") and opt != "--help"
    }
    assert documented == actual
