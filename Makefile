# The README's two commands: `make demo` and `make test`. Both build .venv on first use.
# torch is pinned here (not in pyproject.toml) so set-up takes the CPU wheel instead of a multi-GB CUDA build.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
TORCH  := torch==2.13.0
DEMO_OUT := demo-output/$(shell date +%Y%m%d-%H%M%S)

.PHONY: demo test benchmark setup system-deps clean

$(VENV)/.deps: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet ".[test]"
	touch $@

# The package itself is installed as a wheel (not editable) every time: tests and the demo run what
# users install, including the napari.yaml manifest that only the wheel places inside the package.
setup: $(VENV)/.deps
	$(PY) -m pip install --quiet --no-deps --force-reinstall .

system-deps:
	bash scripts/system-deps.sh

demo: setup
	$(VENV)/bin/xraysep demo --out $(DEMO_OUT)

# Two worker processes (pytest-xdist), tests handed out as they finish: 15.5 → about 11.5 minutes on
# two cores. TEST_WORKERS=0 runs them in this process (a debugger, a single test).
TEST_WORKERS ?= 2
test: setup system-deps
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal

benchmark: setup
	$(PY) benchmarks/quality.py

clean:
	rm -rf $(VENV) build dist demo-output
