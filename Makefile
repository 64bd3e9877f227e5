# The course's two commands:
#   make course [PROFILE=smoke|quick|full] [EXTRAS=gpu]   set up, execute every notebook, write build/report/
#   make test [PROFILE=smoke|quick|full] [EXTRAS=gpu]     unit tests + every notebook under nbval (smoke by default)
# `make test` runs in JOBS pytest-xdist workers (default 2): the notebooks, in order, in one of them, the unit
# tests spread over the others (tests/conftest.py groups the notebooks); JOBS=0 runs everything in one process.
# `make editions` writes the notebooks' student and teacher editions into build/editions/ (course_utils/editions.py).
# REHEARSAL=1 rehearses the profile (`make test PROFILE=full REHEARSAL=1`): its configuration with every
# training and data pass capped to a few steps, in build/rehearsal/, recording no results.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?=
REHEARSAL ?=
JOBS ?= 2
# EXTRAS=gpu adds TensorFlow's CUDA libraries, for Linux with an NVIDIA GPU.
EXTRAS ?=
# `tools` (JupyterLab, the notebook runner, nbval, pytest) is what `make` adds to the package itself.
STAMP := $(VENV)/.installed-tools$(if $(EXTRAS),-$(EXTRAS))

.PHONY: install course test lab editions clean

$(STAMP): pyproject.toml constraints/newest.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints/newest.txt -e ".[tools$(if $(EXTRAS),$(comma)$(EXTRAS))]"
	touch $@

comma := ,

install: $(STAMP)

course: install
	$(BIN)/python -m course_utils run $(if $(PROFILE),--profile $(PROFILE)) $(if $(REHEARSAL),--rehearsal)

test: install
	COURSE_PROFILE=$(or $(PROFILE),smoke) COURSE_REHEARSAL=$(REHEARSAL) $(BIN)/python -m pytest -n $(JOBS) --dist loadgroup

lab: install
	$(BIN)/jupyter lab notebooks/

editions: install
	$(BIN)/python -m course_utils.editions write build/editions --notebooks notebooks

clean:
	rm -rf build
