# Two entry points for a fresh machine: `make demo` and `make test`.
# Each builds .venv from pyproject.toml (pinned), constrained by constraints.txt
# so every machine resolves the same transitive versions.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install sample bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/onramp demo

# Prefect keeps its database under PREFECT_HOME: a throwaway one per run keeps
# tests hermetic. pytest's exit 5 ("no tests collected") is a failure here.
# Three pytest workers (TEST_WORKERS=0: one process): many tests wait on servers and
# subprocesses, so three overlap well even on two cores (1,271 tests on 2 cores: 7 min 55 s
# with three, 9 min 18 s with two; 2,702 tests: 8 min 28 s with three). --dist loadfile keeps each file on one worker, so a
# module's fixtures (an emulator, a Prefect server) start once. The 20 slowest tests are
# listed at the end: the suite must stay under 10 minutes on 2 cores.
TEST_WORKERS ?= 3
test: $(STAMP)
	@home=$$(mktemp -d); \
	PREFECT_HOME=$$home PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=90 \
	PREFECT_SERVER_ANALYTICS_ENABLED=false \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=20 $(PYTEST_ARGS); rc=$$?; rm -rf $$home; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

sample: $(STAMP)
	$(BIN)/python -m benchmarks.generate_mailchimp --rows 60 --seed 7 --out samples/mailchimp-audience-export.zip

clean:
	rm -rf $(VENV) .pytest_cache
