# The two commands the README gives: `make demo` (install + run the main job on the sample
# data) and `make test` (install + run the tests). Everything installs into .venv/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := out/demo
# The word model shipped for the demo's predict step, and where `make grid-model` builds it.
GRID_MODEL := data/models/grid_s1_words
GRID_WORK := out/grid_model
# The two sample recordings in that model's test split: it never trained on them.
DEMO_VIDEOS := data/sample/grid_s1/video/bras9a.mpg data/sample/grid_s1/video/lbwl1a.mpg

.PHONY: install browser tools schedulers demo grid-model test lock clean

$(BIN)/.installed: requirements.lock setup.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "lipflow needs Python 3.11 (found %s); set PYTHON=python3.11" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/lipflow preprocess --input data/sample/grid_s1 --output $(DEMO)/data --overwrite --augment_copies 1 \
	  --train_fraction 0.7 --val_fraction 0.15
	$(BIN)/lipflow contact-sheet --data $(DEMO)/data/train --output $(DEMO)/contact_sheet.png
	rm -rf $(DEMO)/model
	$(BIN)/lipflow train --data $(DEMO)/data --config demo --output $(DEMO)/model
	rm -rf $(DEMO)/eval
	$(BIN)/lipflow evaluate --data $(DEMO)/data --model $(DEMO)/model/export --output $(DEMO)/eval --split test
	@echo "Demo done: dataset in $(DEMO)/data (dataset_info.json), crops in $(DEMO)/contact_sheet.png, model in $(DEMO)/model/export, logs in $(DEMO)/model/logs"
	@echo "Evaluation report: $(DEMO)/eval/report.html (metrics in $(DEMO)/eval/metrics.json)"
	rm -rf $(DEMO)/predict
	$(BIN)/lipflow predict $(DEMO_VIDEOS) --model $(GRID_MODEL) --output $(DEMO)/predict --annotate
	@echo "Read by the shipped GRID word model ($(GRID_MODEL)): $(DEMO)/predict/predictions.html (and the annotated videos beside it)"

# The shipped GRID word model, made again from GRID speaker 1's 390 recordings (video/ and
# align/ in GRID=DIR): the `grid` preset at width 10, scored on its test split.
grid-model: install
	@test -n "$(GRID)" || { echo "usage: make grid-model GRID=DIR (GRID speaker 1: video/ and align/)"; exit 2; }
	$(BIN)/lipflow preprocess --input $(GRID) --output $(GRID_WORK)/data --overwrite
	rm -rf $(GRID_WORK)/run $(GRID_WORK)/eval
	$(BIN)/lipflow train --data $(GRID_WORK)/data --config grid --set model.width=10 \
	  --output $(GRID_WORK)/run
	$(BIN)/lipflow evaluate --data $(GRID_WORK)/data --model $(GRID_WORK)/run/export \
	  --output $(GRID_WORK)/eval --split test
	$(BIN)/python infra/models/ship_model.py --export $(GRID_WORK)/run/export \
	  --evaluation $(GRID_WORK)/eval --output $(GRID_MODEL) --report docs/reports/grid_shipped_model

# The report test renders report.html in headless Chromium (Debian's package gives /usr/bin/chromium).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "Installing Chromium: tests/test_report.py renders report.html in /usr/bin/chromium"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	fi

# What the tests need besides .venv/: Chromium (above) and shellcheck, which lints the
# Dataflow scripts (Debian's package, as Chromium).
tools: browser
	@if ! command -v shellcheck >/dev/null; then \
	  echo "Installing shellcheck: tests/test_infra_dataflow.py lints infra/dataflow/*.sh"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck; \
	fi

# The schedulers' own environments, kept apart from .venv/ as on their machines: the tests
# import the Airflow DAG and compile the Vertex pipeline in them.
.venv-%/.installed: infra/schedules/%.lock
	$(PYTHON) -m venv .venv-$*
	.venv-$*/bin/pip install --quiet --upgrade pip==25.3
	.venv-$*/bin/pip install --quiet --no-deps -r $<
	.venv-$*/bin/pip check
	touch $@

schedulers: .venv-airflow/.installed .venv-kfp/.installed

# Test files are shared out whole between TEST_WORKERS processes (a file's fixtures are
# built once); --durations lists the slowest tests at the end.
TEST_WORKERS ?= 2
test: install tools schedulers
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=25 tests

lock: install
	(echo "# Exact pins of every package lipflow installs (Python 3.11). Remake with: make lock"; \
	 $(BIN)/pip freeze --exclude-editable | grep -v '^lipflow') > requirements.lock

clean:
	rm -rf $(VENV) .venv-airflow .venv-kfp out
