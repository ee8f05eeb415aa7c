# Two commands do all the set-up on a fresh machine (Python 3.10+):
#   make demo   install into .venv, then run the main job (embedded digits data, no download)
#   make test   install into .venv, then run the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test install

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0   # the CPU wheel; any other spec pulls a multi-GB CUDA build
	$(PY) -m pip install -q -e ".[test,dist,nir-peers]"
	$(PY) -m pip install -q --no-deps sinabs==3.1.3 norse==1.1.0   # NIR peer engines; see pyproject nir-peers
	$(PY) -m learning.warmup   # fills numba's on-disk cache: no half-minute compile on the first run
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/spikecount demo --out runs/demo

test: $(STAMP)
	$(VENV)/bin/pytest -q -p no:cacheprovider
