.PHONY: up down token demo-live test test-unit lint schemas bench bench-city clean

up:          ## run the platform: Kafka, PostgreSQL, the four services, demo data
	deploy/up.sh

down:        ## stop everything `make up` started (data is kept in .run/dev)
	deploy/down.sh

token:       ## a bearer token for the running platform: make token ROLE=admin SUBJECT=m001
	@set -a && . .run/dev/mingdeng.env && set +a && .venv/bin/mingdeng-gateway token --role $(or $(ROLE),admin) --subject $(or $(SUBJECT),admin) $(if $(SOURCE),--source $(SOURCE)) $(if $(AGENCY),--agency $(AGENCY))

demo-live:   ## keep the demo bureau moving: make demo-live RATE=2 (events a second; Ctrl-C stops)
	@set -a && . .run/dev/mingdeng.env && set +a && .venv/bin/mingdeng demo --live --rate $(or $(RATE),2)

test:        ## unit, integration and end-to-end tests against a real broker and database
	deploy/test.sh

test-unit:   ## the unit tests alone: no infrastructure
	deploy/bootstrap.sh && uv run --frozen pytest tests/unit

lint:        ## ruff and mypy
	uv run --frozen ruff check . && uv run --frozen ruff format --check . && uv run --frozen mypy shared/src services/*/src deploy/ops/src

schemas:     ## regenerate the JSON Schemas and the AsyncAPI document from the contracts
	uv run --frozen python shared/export_contracts.py

bench:       ## benchmarks; results are written to bench/results/ (the city's last: 1-2 h)
	deploy/bench.sh

bench-city:  ## the city-sized bench alone (issue 26): make bench-city CITY_ARGS="--agencies 20 --members 3000 --events 300000"
	deploy/bench.sh city

clean:       ## stop and delete all local data (.run/dev, .run/test, their databases)
	deploy/clean.sh
