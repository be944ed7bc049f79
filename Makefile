# quantpe: the two set-up-and-go commands are `make report` and `make test`.
# Both create .venv, install the Python dependencies (pip) and, when missing, iverilog and yosys
# from the distribution (apt-get; sudo is used when not root); ccache halves each Verilator build.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
JOBS   ?= 2
APT    := $(shell [ "$$(id -u)" = 0 ] && echo apt-get || echo sudo apt-get)

.PHONY: report test test-slow lint mutate probe bench venv venv-test tools clean

report: venv tools
	$(BIN)/quantpe report

test: venv-test tools
	$(BIN)/ruff check -q .
	$(BIN)/pytest -n $(JOBS) --dist worksteal -q --durations=25

test-slow: venv-test tools
	$(BIN)/pytest -n $(JOBS) --dist worksteal -q --slow

lint: venv-test
	$(BIN)/ruff check .

mutate: venv-test tools
	$(BIN)/python tests/mutation.py

probe: venv-test tools
	$(BIN)/python tests/probe.py -j $(JOBS)

bench: venv tools
	$(BIN)/quantpe bench sim

venv: $(VENV)/.installed

venv-test: $(VENV)/.installed-test

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

tools:
	@missing=""; \
	command -v iverilog >/dev/null || missing="$$missing iverilog"; \
	command -v yosys >/dev/null || missing="$$missing yosys"; \
	command -v make >/dev/null || missing="$$missing make"; \
	command -v g++ >/dev/null || missing="$$missing g++"; \
	command -v perl >/dev/null || missing="$$missing perl"; \
	command -v sta >/dev/null || missing="$$missing opensta"; \
	command -v ccache >/dev/null || missing="$$missing ccache"; \
	if [ -n "$$missing" ]; then \
	  echo "installing from the distribution:$$missing"; \
	  $(APT) update -qq && DEBIAN_FRONTEND=noninteractive $(APT) install -y -qq $$missing; \
	fi

clean:
	rm -rf build sim_build
