# dmslake: `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export MOTO_PORT ?= 5055
export TRINO_PORT ?= 8085
export ATHENA_LOCAL_PORT ?= 5056
CARGO ?= cargo

.PHONY: help
help: ## List the targets with a one-line description
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2}'

.PHONY: setup
setup: ## Install the local tools once (Python venv with moto, cfn-lint, SAM CLI, sqlglot, DuckDB)
	@scripts/dev-env.sh

.PHONY: stack-up
stack-up: setup ## Start the local stack: AWS emulator (moto, :$MOTO_PORT), Trino (:$TRINO_PORT), the local Athena (:$ATHENA_LOCAL_PORT), dmslake's local resources
	@scripts/moto.sh start
	@scripts/trino.sh start
	@scripts/athena-local.sh start
	@.venv/bin/python scripts/local_resources.py >/dev/null

.PHONY: stack-down
stack-down: ## Stop the local stack (Lambda emulator, local Athena, Trino, moto server)
	@scripts/lambda-local.sh stop
	@scripts/athena-local.sh stop
	@scripts/trino.sh stop
	@scripts/moto.sh stop

# Invoke a function by hand under cargo-lambda's runtime emulator against the local stack:
#   make invoke-watcher EVENT=events/dms-task-failed.json
.PHONY: invoke-registrar
invoke-registrar: stack-up ## Invoke partition-registrar with EVENT (default: an S3 notification sample), its objects staged locally
	@scripts/lambda-local.sh invoke partition-registrar "$$(AWS_ENDPOINT_URL=http://127.0.0.1:$(MOTO_PORT) .venv/bin/python scripts/stage_event.py $(or $(EVENT),events/s3-object-created-dms-parquet.json))"

.PHONY: invoke-watcher
invoke-watcher: stack-up ## Invoke dms-task-watcher with EVENT (default: events/dms-task-failed.json)
	@scripts/lambda-local.sh invoke dms-task-watcher $(or $(EVENT),events/dms-task-failed.json)

.PHONY: invoke-compactor
invoke-compactor: stack-up ## Invoke compactor with EVENT (default: events/compactor-schedule.json)
	@scripts/lambda-local.sh invoke compactor $(or $(EVENT),events/compactor-schedule.json)

.PHONY: status
status: stack-up ## Print the watched DMS tasks' state and history on the local stack (dmslake status)
	@set -a && . scripts/local.env && set +a && AWS_ENDPOINT_URL=http://127.0.0.1:$(MOTO_PORT) $(CARGO) run --quiet --locked -p dmslake-cli -- status

.PHONY: test
test: stack-up ## Run every test (unit, integration against the local emulator and PostgreSQL, template checks); prints how many ran
	@scripts/postgres.sh start
	@mkdir -p .local
	@set -o pipefail; $(CARGO) test --workspace --locked 2>&1 | tee .local/test-output.log
	@awk '/^test result:/ {p += $$4; f += $$6; i += $$8} END {printf "tests run: %d passed, %d failed, %d ignored\n", p, f, i}' .local/test-output.log

.PHONY: install
install: ## Install the dmslake CLI into ~/.cargo/bin (cargo install --path cli --locked)
	$(CARGO) install --path cli --locked

.PHONY: check
check: ## Formatting and lints (cargo fmt --check, clippy -D warnings)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

.PHONY: demo
demo: stack-up ## Set up everything and replicate a sample PostgreSQL database through the whole pipeline locally
	@scripts/demo.sh

# ---- build & deploy ----
# ARCH: arm64 (default, as template.yaml) or x86_64. An arm64 build on an x86_64 machine needs
# the Rust target aarch64-unknown-linux-gnu (`rustup target add`), which a machine without
# internet access cannot download; ARCH=x86_64 builds for the host.
ARCH ?= arm64
CARGO_LAMBDA_ARCH_FLAG_arm64 := --arm64
CARGO_LAMBDA_ARCH_FLAG_x86_64 := --x86-64
STACK_NAME ?= dmslake

.PHONY: build
build: ## Release-build the three functions with cargo-lambda into target/lambda/<name>/bootstrap.zip (ARCH=arm64|x86_64)
	@test -n "$(CARGO_LAMBDA_ARCH_FLAG_$(ARCH))" || { echo "ARCH must be arm64 or x86_64, not '$(ARCH)'" >&2; exit 2; }
	PATH="$$(scripts/cargo-lambda.sh):$$PATH" cargo lambda build --release --locked \
		$(CARGO_LAMBDA_ARCH_FLAG_$(ARCH)) --output-format zip \
		--bin partition-registrar --bin dms-task-watcher --bin compactor

.PHONY: validate
validate: setup ## Check template.yaml offline (sam validate --lint, cfn-lint, translated cfn-lint, IAM least privilege)
	@scripts/validate-template.sh

.PHONY: deploy
deploy: validate ## sam build + sam deploy (guided the first time, until samconfig.toml names the stack)
	PATH="$$(scripts/cargo-lambda.sh):$$PATH" .venv/bin/sam build --template-file template.yaml
	@if [[ -f samconfig.toml ]] && grep -q '^stack_name' samconfig.toml; then \
		.venv/bin/sam deploy; \
	else \
		.venv/bin/sam deploy --guided --stack-name $(STACK_NAME) --capabilities CAPABILITY_IAM; \
	fi
