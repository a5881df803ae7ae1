# The README's two commands: `make train` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TORCH  := torch==2.13.0

# Default main job: a tabular agent on a sige/ gridworld, well under a minute on a laptop core.
TRAIN_ARGS ?= --env sige/GridWorld-v0 --agent q_learning --steps 20000 --seed 0

.PHONY: setup train test bench lint clean

setup: $(STAMP)

# CPU torch first, pinned: a bare range would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[dev,atari,datasets,plots,video,sweeps,ray,masks]"
	touch $(STAMP)

train: $(STAMP)
	$(PY) scripts/train_agent.py $(TRAIN_ARGS)

# One pytest worker per core (pytest-xdist): the suite's learning checks are single-threaded.
test: $(STAMP)
	$(PY) -m pytest -q -n auto

bench: $(STAMP)
	@for f in scripts/bench/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

lint: $(STAMP)
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) runs build *.egg-info
