# apga-sim: `make run` installs (if needed) and runs the default scenario; `make test` installs and tests.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SCENARIO ?= scenarios/quick/hopper_compare.yaml
OUT     ?= results

.PHONY: install run test lint docs bench figures paper fuzz clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev,ray]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/apga-sim run $(SCENARIO) --out $(OUT)

test: lint docs
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check apga_sim tests bench
	$(BIN)/ruff format --check apga_sim tests bench
	$(BIN)/mypy

# The docs site (mkdocs-material, strict: a broken link or a page outside the nav fails) in site/.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build

# make fuzz [FUZZ_EXAMPLES=2000]: the property-based fuzz suite at scale (CI runs 10 of each).
FUZZ_EXAMPLES ?= 2000
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -p no:cacheprovider -s tests/test_fuzz.py

bench: $(STAMP)
	$(BIN)/python -m bench

figures: $(STAMP)
	$(BIN)/apga-sim figures scenarios/paper --out results/paper

# make paper FIG=1b [SEEDS=5] [JOBS=2]: the paper's protocol (tune, evaluate, summary, figures) for
# every scenarios/paper/fig<FIG>_*.yaml, into results/reproduce/<name>; rerun to resume.
paper: $(STAMP)
	@test -n "$(FIG)" || { echo "usage: make paper FIG=1b [SEEDS=5] [JOBS=2]"; exit 2; }
	@files="$(filter-out %.tuned.yaml,$(wildcard scenarios/paper/fig$(FIG)_*.yaml))"; \
	test -n "$$files" || { echo "no scenarios/paper/fig$(FIG)_*.yaml"; exit 2; }; \
	for f in $$files; do \
		$(BIN)/apga-sim reproduce $$f $(if $(SEEDS),--seeds $(SEEDS)) $(if $(JOBS),--jobs $(JOBS)) || exit 1; \
	done

clean:
	rm -rf $(VENV) results .pytest_cache site
