# Thin wrappers; the README explains each.
CARGO ?= cargo

.PHONY: run test chaos schema schema-check lint bench release

## Start everything: subgraphs and the router on :4000 (playground at http://127.0.0.1:4000/graphql).
run:
	scripts/ensure-services.sh
	$(CARGO) run -- run

## Run every test against the machine's real PostgreSQL and RabbitMQ (and headless Chromium).
test:
	scripts/ensure-services.sh --browser
	$(CARGO) run -q -p jobtracker-schema -- check
	scripts/validate-deploy.sh
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi

## Chaos: restarts the machine's RabbitMQ and PostgreSQL under load (one and two replicas); one test at a time, outside `make test`.
chaos:
	scripts/ensure-services.sh
	$(CARGO) nextest run -p jobtracker --run-ignored ignored-only --test-threads 1 -E 'test(/^chaos::/)'

## Export every subgraph's SDL and compose schema/supergraph.graphql.
schema:
	$(CARGO) run -q -p jobtracker-schema -- compose

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

release:
	$(CARGO) build --release -p jobtracker

bench:
	bench/run.sh
