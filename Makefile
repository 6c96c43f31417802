# shadowdiff: `make demo` runs record -> replay -> diff on the committed capture;
# `make test` runs the test suite. Both install what is missing first.

SWIFT ?= swift
APT_PACKAGES := libpcap-dev libsqlite3-dev sqlite3 pkg-config tcpdump curl python3 nginx-light wrk
# The Python gRPC peers (fixtures/grpc_client.py) and protoc (fixtures/grpc-bidder/generate.sh), from PyPI.
PYTHON ?= python3
PIP_PACKAGES := grpcio==1.85.1 grpcio-tools==1.85.1 protobuf==7.36.2

.PHONY: all deps python-deps build demo test fuzz clean sample-capture grpc-capture browser report-check

all: build

# Installs the Debian packages the build, the demo and the tests need, when any is missing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# Installs PIP_PACKAGES into $(PYTHON) when any is missing or at another version.
python-deps:
	@$(PYTHON) -c 'import importlib.metadata as m, sys; sys.exit(any(m.version(p) != v for p, v in (a.split("==") for a in sys.argv[1:])))' \
		$(PIP_PACKAGES) >/dev/null 2>&1 || { \
		echo "installing: $(PIP_PACKAGES)"; \
		pip="$(PYTHON) -m pip install -q --disable-pip-version-check --root-user-action=ignore $(PIP_PACKAGES)"; \
		$$pip || $$pip --break-system-packages; \
	}

build: deps
	$(SWIFT) build --product shadowdiff
	$(SWIFT) build --product fixture-bidder
	$(SWIFT) build --product fixture-grpc-bidder

demo: build
	bash scripts/demo.sh

# The replayer's timing tests and the verdict honesty tests (A/A false alarms, detection power)
# run on their own first: in the parallel run, tests that wait on child processes hold the 2
# cooperative threads and load the cores, which stretches measured times and latencies. The
# signal tests run alone too: they load every core on purpose, which would stretch the others.
test: deps python-deps browser
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --filter ReplayerTests
	$(SWIFT) test --skip-build --filter VerdictHonestyTests
	$(SWIFT) test --skip-build --filter SignalTests
	$(SWIFT) test --skip-build --skip ReplayerTests --skip VerdictHonestyTests --skip SignalTests
	$(MAKE) --no-print-directory report-check

# Fuzzes every parser of untrusted bytes with libFuzzer and AddressSanitizer (scripts/fuzz.sh):
# FUZZ_SECONDS=N per target (default 60), or FUZZ_RUNS=N executions each; FUZZ_TARGETS picks some.
# Inputs that crash are copied to fixtures/fuzz/TARGET/, which `make test` replays.
fuzz: deps
	bash scripts/fuzz.sh $(FUZZ_TARGETS)

# Installs headless Chromium from Debian (chromium-headless-shell) for the report checks when it
# is missing; the only allowed skip of those checks is when apt cannot install it.
browser:
	@have_browser() { command -v chromium-headless-shell >/dev/null 2>&1 || command -v chromium >/dev/null 2>&1; }; \
	if ! have_browser || ! command -v python3 >/dev/null 2>&1; then \
		missing="chromium-headless-shell"; command -v python3 >/dev/null 2>&1 || missing="$$missing python3"; \
		echo "installing: $$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		{ $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; } || true; \
	fi; \
	have_browser || echo "browser: Chromium is not installable here (apt-get install chromium-headless-shell failed); the browser checks will be skipped"

# Renders HTML in headless Chromium and fails on console errors or warnings, CSP violations, any
# JavaScript, any request other than the file itself, or a missing screenshot
# (scripts/report-check.sh): first the self-test on fixtures/report-check/, then the demo's report.
report-check: build browser
	@if ! command -v chromium-headless-shell >/dev/null 2>&1 && ! command -v chromium >/dev/null 2>&1; then \
		echo "report-check: SKIPPED: Chromium is not installable here"; exit 0; \
	fi; \
	bash scripts/report-check-selftest.sh && \
	bash scripts/demo.sh >out/demo.log 2>&1 || { echo "report-check: make demo failed; see out/demo.log" >&2; exit 1; }; \
	bash scripts/report-check.sh out/demo-report.html out/demo-report.png

# Regenerates captures/sample.pcap with tcpdump on loopback (see captures/README.md).
sample-capture: build
	bash captures/make-sample.sh

# Regenerates captures/grpc-bidder.pcap with tcpdump on loopback (see captures/README.md).
grpc-capture: deps python-deps
	bash captures/make-grpc-capture.sh

clean:
	rm -rf .build out
