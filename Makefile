# The course's two commands:
#   make course [PROFILE=smoke|quick|full] [EXTRAS=gpu]   set up, execute every notebook, write build/report/
#   make test                                unit tests + every notebook under nbval (smoke)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?=
# EXTRAS=gpu adds TensorFlow's CUDA libraries, for Linux with an NVIDIA GPU.
EXTRAS ?=
STAMP := $(VENV)/.installed$(if $(EXTRAS),-$(EXTRAS))

.PHONY: install course test lab clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".$(if $(EXTRAS),[$(EXTRAS)])"
	touch $@

install: $(STAMP)

course: install
	$(BIN)/python -m course_utils run $(if $(PROFILE),--profile $(PROFILE))

test: install
	COURSE_PROFILE=smoke $(BIN)/python -m pytest

lab: install
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf build
