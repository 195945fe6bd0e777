# The two commands of the README: `make gate` and `make test`;
# `make test-all` runs the full matrix (see the README).
.PHONY: setup gate test test-all lint down

setup:
	bash scripts/setup.sh

gate: setup
	.venv/bin/gauntlet run --profile gate

test: setup
	bash scripts/test.sh

test-all: setup
	bash scripts/test.sh --all

lint: setup
	.venv/bin/ruff check src tests suites conftest.py
	.venv/bin/mypy

down: setup
	.venv/bin/gauntlet lab down
