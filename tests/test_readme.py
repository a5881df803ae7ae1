"""The README's tables of environments, agents and options cannot drift from the code."""

import re
from pathlib import Path

from sige_rl import agents, envs
from sige_rl.agents.training import tune
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


def options_of_first_column(heading: str) -> set[str]:
    """Every ``--option`` named in the first cell of the section's table rows."""
    section = README.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    cells = re.findall(r"^\| ([^|]*(?:\\\|[^|]*)*) \|", section, flags=re.M)
    return {o for cell in cells for o in re.findall(r"`(--[a-z-]+)", cell)}


def long_options(parser) -> set[str]:
    return {
        opt
        for action in parser._actions
        for opt in action.option_strings
        if opt.startswith("--") and opt != "--help"
    }


def test_option_table_matches_the_parser():
    assert options_of_first_column("Training") == long_options(build_parser())


def test_tune_option_table_matches_its_parser():
    documented = options_of_first_column("Hyperparameter search with Optuna")
    assert documented == long_options(tune.build_parser())


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
