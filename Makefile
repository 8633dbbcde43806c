# CivicDesk developer commands. `make help` lists them.
# Both environments are created by scripts/bootstrap.sh from the committed lock files.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PY := .venv/bin/python
BO := cd backoffice && .venv/bin
# Rasa prints a progress bar per epoch; keep CI logs readable.
export TQDM_DISABLE := 1
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

.PHONY: help install browser speech run train test test-bot test-backoffice test-conversations validate \
        lint format backoffice-api-key clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-22s %s\n", $$1, $$2}'

install: ## Install uv, Python 3.10 environments and dependencies if missing (idempotent)
	@./scripts/bootstrap.sh

train: install ## Train the Rasa model if training data or config changed
	@$(PY) -m devstack.train

run: install train ## Start back office, action server and Rasa; Ctrl-C stops all
	@$(PY) -m devstack

browser: ## Install Chromium and axe-core (npm, pinned) for the browser tests if missing
	@./scripts/install-chromium.sh
	@./scripts/install-axe.sh

speech: ## Install espeak-ng for the voice channel's speech test if missing
	@./scripts/install-espeak.sh

test: install browser speech train ## Run every test of both environments
	@$(MAKE) --no-print-directory validate test-conversations test-bot test-backoffice

validate: install ## Check the Rasa training data and domain for consistency
	$(PY) -m rasa data validate --data nlu bot --domain domain.yml --config config.yml

test-conversations: install train ## Conversation tests (test stories) against the trained model
	$(PY) -m rasa test core --model models/civicdesk.tar.gz --stories tests/conversations \
	    --fail-on-prediction-errors --out results/conversations

test-bot: install browser speech train ## Bot-side tests: actions, schema, end-to-end through all three processes
	$(PY) -m pytest

test-backoffice: install ## Back-office tests (SQLite and PostgreSQL)
	$(BO)/pytest -q

lint: install ## Ruff (lint + format check) and mypy on both environments
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	$(BO)/ruff check .
	$(BO)/ruff format --check .
	$(BO)/mypy src

format: install ## Format and auto-fix both environments
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .
	$(BO)/ruff format . && $(BO)/ruff check --fix .

backoffice-api-key: install ## Create an Open311 API key (NAME=integrator) in the local back office
	cd backoffice && BACKOFFICE__DB__URL="sqlite+aiosqlite:///$(CURDIR)/var/backoffice.sqlite3" \
	    .venv/bin/civicdesk-backoffice api-key create --name "$${NAME:-integrator}"

clean: ## Remove trained models, test results and local state (var/)
	rm -rf models results var .rasa
