# Two commands for a fresh machine (see README):  make suite   |   make test
VENV ?= .venv
# every temporary file of the install, the suite and the tests under build/, never the host's /tmp
export TMPDIR := $(CURDIR)/build/tmp
$(shell mkdir -p '$(TMPDIR)')
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install lint suite test test-all rehearsal report bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

## lint and types (configured in pyproject.toml): ruff over the checkout, mypy over the package; a finding fails
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

## run the claims suite on this host (real security on macOS, the simulator elsewhere) and build the report
suite: install
	$(VENV)/bin/pytest $(PYTEST_ARGS); status=$$?; \
	$(VENV)/bin/keychain-claims report || exit $$?; \
	exit $$status

## the project's own tests, in tiers (README, "The project's own tests"): a test that starts pytest in a
## child process (marker `suite`), runs a real Claude Code release (`release`), opens Chromium (`browser`)
## runs a whole corpus in one test (`corpus`: every assumption probe, real transcript, behaviour case) or
## races processes against one keychain or waits out a real deadline (`stress`) or opens the macOS code path's own
## security session for itself, rehearsed (`mac_session`)
## is in a slow tier.  TIER=default (`make test`): all but the slow tiers; TIER=slow: only those;
## TIER=all (`make test-all`): every tier.  pytest-xdist workers: three for the default tier (its tests
## wait on child processes and terminals, so a third fills the gaps on two cores), two for the slow tiers
## (each of their tests runs a whole suite: a third would only queue on two cores); in the slow tiers a
## file goes whole to one worker (--dist loadfile), so a module's fixture (a whole-suite run) is made once.
SLOW_TIERS := suite or release or browser or corpus or stress or mac_session
TIER ?= default
TEST_WORKERS_default := 3
TEST_WORKERS_slow := 2
TEST_WORKERS_all := 2
TEST_WORKERS ?= $(TEST_WORKERS_$(TIER))
TIER_ARGS_default := -m "not ($(SLOW_TIERS))" --dist load
TIER_ARGS_slow := -m "$(SLOW_TIERS)" --dist loadfile
TIER_ARGS_all := --dist loadfile

test: install
	$(if $(filter $(TIER),default slow all),,$(error TIER=$(TIER): choose default, slow or all))
	$(VENV)/bin/pytest tests -n $(TEST_WORKERS) --basetemp='$(CURDIR)/build/test-tmp' \
		$(TIER_ARGS_$(TIER)) $(PYTEST_ARGS)

test-all:
	$(MAKE) test TIER=all

## the macOS backend's whole code path on this host, keychain-sim standing in for /usr/bin/security
rehearsal: install
	$(VENV)/bin/pytest --backend rehearsal -n 2 --reports-dir=reports/rehearsal \
		--alluredir=reports/rehearsal/allure-results $(PYTEST_ARGS)

## turn reports/allure-results into reports/allure-report (Allure 3, history carried over)
report: install
	$(VENV)/bin/keychain-claims report

bench: install
	$(PY) bench/run.py

clean:
	rm -rf reports/allure-results reports/allure-report reports/claims.* reports/*.json
