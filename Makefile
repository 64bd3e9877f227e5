# The course's two commands:
#   make course [PROFILE=smoke|quick|full] [EXTRAS=gpu]   set up, execute every notebook, write build/report/
#   make test [PROFILE=smoke|quick|full] [EXTRAS=gpu]     unit tests + every notebook under nbval (smoke by default)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?=
# EXTRAS=gpu adds TensorFlow's CUDA libraries, for Linux with an NVIDIA GPU.
EXTRAS ?=
# `tools` (JupyterLab, the notebook runner, nbval, pytest) is what `make` adds to the package itself.
STAMP := $(VENV)/.installed-tools$(if $(EXTRAS),-$(EXTRAS))

.PHONY: install course test lab clean

$(STAMP): pyproject.toml constraints/newest.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints/newest.txt -e ".[tools$(if $(EXTRAS),$(comma)$(EXTRAS))]"
	touch $@

comma := ,

install: $(STAMP)

course: install
	$(BIN)/python -m course_utils run $(if $(PROFILE),--profile $(PROFILE))

test: install
	COURSE_PROFILE=$(or $(PROFILE),smoke) $(BIN)/python -m pytest

lab: install
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf build
