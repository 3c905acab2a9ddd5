# The two commands the README gives: `make demo` (install + run the main job on the sample
# data) and `make test` (install + run the tests). Everything installs into .venv/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := out/demo

.PHONY: install browser tools schedulers demo test lock clean

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
	$(BIN)/lipflow predict data/sample/grid_s1/video/bbaf3s.mpg --model $(DEMO)/model/export \
	  --output $(DEMO)/predict --annotate
	@echo "Read lips on your own video: $(DEMO)/predict/predictions.html (and bbaf3s.annotated.mp4 beside it)"

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

test: install tools schedulers
	$(BIN)/python -m pytest -q tests

lock: install
	(echo "# Exact pins of every package lipflow installs (Python 3.11). Remake with: make lock"; \
	 $(BIN)/pip freeze --exclude-editable | grep -v '^lipflow') > requirements.lock

clean:
	rm -rf $(VENV) .venv-airflow .venv-kfp out
