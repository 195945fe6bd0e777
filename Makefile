# The two commands of the README: `make gate` and `make test`.
.PHONY: setup gate test lint down

setup:
	bash scripts/setup.sh

gate: setup
	.venv/bin/gauntlet run --profile gate

test: setup
	bash scripts/test.sh

lint: setup
	.venv/bin/ruff check src tests suites conftest.py
	.venv/bin/mypy

down: setup
	.venv/bin/gauntlet lab down
