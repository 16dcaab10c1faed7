# Everything a fresh machine needs is set up by these targets themselves.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test soak bench browser install clean screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# A Chromium for Playwright: Playwright's own if installed, else the system's,
# else Debian's package when we are root (see portals/browser.py).
browser: $(STAMP)
	$(PY) -m portals.browser ensure

demo: install browser
	$(PY) -m demo

# The long versions of tests CI runs bounded (marker soak) are left to `make soak`.
test: install browser
	$(PY) -m pytest -q -p no:cacheprovider -m "not soak" tests

soak: install browser
	$(PY) -m pytest -q -p no:cacheprovider -m soak tests

bench: install browser
	$(PY) tests/benchmarks/run_all.py $(BENCH_ARGS)

# A PNG of each page of the web workspace (claims serve) into docs/web/.
screenshots: install browser
	$(PY) scripts/web_screenshots.py

clean:
	rm -rf $(VENV) build *.egg-info demo-workspace .bench
