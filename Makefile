# Two entry points for a fresh machine: `make run` (the app) and `make test` (every test).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: install install-test install-bench install-train train-reader run index test lint bench quality clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(PY) pyproject.toml constraints.txt
	$(PIP) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

$(VENV)/.installed-bench: $(VENV)/.installed
	$(PIP) -e '.[bench]'
	touch $@

install-bench: $(VENV)/.installed-bench

$(VENV)/.installed-train: $(VENV)/.installed
	$(PIP) -e '.[train]'
	touch $@

install-train: $(VENV)/.installed-train

# The reader's shipped weights (qa/models/weights/), from ../shared/train on the CPU: about 30 minutes on 2 cores;
# see docs/reader.md. Runs and checkpoints go under $$QA_READER_WORK (default /tmp/reader-work).
train-reader: install-train
	HF_HUB_OFFLINE=1 $(PY) -m benchmarks.train_reader --ship $(READER_ARGS)

index: install
	$(VENV)/bin/qa index

run: index
	$(PY) app.py

lint: install-test
	$(VENV)/bin/ruff check qa tests benchmarks app.py
	$(VENV)/bin/ruff format --check qa tests benchmarks app.py
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest

quality: install
	$(VENV)/bin/qa eval --questions ../shared/bench/article-dev.questions.jsonl
	$(VENV)/bin/qa eval --questions benchmarks/data/article-heldout.questions.jsonl
	$(VENV)/bin/qa eval $(foreach f,$(sort $(wildcard ../shared/bench/squad-dev/*.questions.jsonl)),--questions $(f))
	$(VENV)/bin/qa eval --questions benchmarks/data/dialogues-article-a.questions.jsonl --questions benchmarks/data/dialogues-article-b.questions.jsonl
	$(VENV)/bin/qa eval --questions benchmarks/data/dialogues-squad.questions.jsonl --corpus ../shared/bench/squad-dev
	$(VENV)/bin/qa eval --questions benchmarks/data/answerable-article.questions.jsonl --questions benchmarks/data/unanswerable-article.questions.jsonl

# Speed: documents added to first answer, latency, cold start, build throughput and memory, search at
# scale, the app under load. About an hour on 2 cores (the 50,000-passage build takes most of it);
# see docs/performance.md.
bench: install-bench
	$(PY) -m benchmarks.documents
	$(PY) -m benchmarks.build_speed
	$(PY) -m benchmarks.perf
	$(PY) benchmarks/search_scale.py
	$(PY) benchmarks/load.py
	$(PY) -m benchmarks.uploads
	$(PY) -m benchmarks.ask_at_once
	$(PY) -m benchmarks.eval_reader --speed --sentences 1 2 4 8

clean:
	rm -rf $(VENV) .qa-index .pytest_cache .mypy_cache .ruff_cache artifacts
