# dmslake: `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export MOTO_PORT ?= 5055
CARGO ?= cargo

.PHONY: help
help: ## List the targets with a one-line description
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2}'

.PHONY: setup
setup: ## Install the local tools once (Python venv with moto, cfn-lint, SAM CLI, sqlglot, DuckDB)
	@scripts/dev-env.sh

.PHONY: stack-up
stack-up: setup ## Start the local AWS emulator (moto server on 127.0.0.1:$MOTO_PORT)
	@scripts/moto.sh start

.PHONY: stack-down
stack-down: ## Stop the local stack
	@scripts/moto.sh stop

.PHONY: test
test: stack-up ## Run every test (unit, integration against the local emulator, template checks)
	$(CARGO) test --workspace --locked

.PHONY: check
check: ## Formatting and lints (cargo fmt --check, clippy -D warnings)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

.PHONY: demo
demo: stack-up ## Set up and run the pipeline locally on the sample DMS output
	@scripts/demo.sh
