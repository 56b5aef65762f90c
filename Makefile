# The two commands of the README: `make demo` (the full Init-RA demo on the simulated platform)
# and `make test` (every Rust test, the Python grpcio interop test and the demo as an end-to-end check).
CARGO ?= cargo
JOBS ?= 2
VENV := examples/flask-tls/.venv
# The Python interop test (crates/cli/tests/server_e2e.rs) runs `python3` from PATH: the venv's.
TEST_PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: demo demo-keep test test-rust test-demo lint bench fuzz

demo:
	examples/flask-tls/demo.sh

demo-keep:
	examples/flask-tls/demo.sh --keep-running

test: test-rust test-demo

test-rust: $(VENV)/.installed
	$(CARGO) build -j$(JOBS) -p initra-cli
	PATH="$(TEST_PATH)" INITRA_REQUIRE_PYTHON_GRPC=1 $(CARGO) test -j$(JOBS) --workspace

$(VENV)/.installed: examples/flask-tls/requirements.txt tests/python/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check \
		-r examples/flask-tls/requirements.txt -r tests/python/requirements.txt
	touch $@

test-demo:
	INITRA_SKIP_BUILD=1 examples/flask-tls/demo.sh --check

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy -j$(JOBS) --workspace --all-targets -- -D warnings

bench:
	$(CARGO) bench -j$(JOBS) --workspace

# Needs a nightly toolchain and `cargo install cargo-fuzz`; not part of `make test`.
FUZZ_SECONDS ?= 45
fuzz:
	cd fuzz && for t in quote certificate policy snp; do \
		cargo +nightly fuzz run -j1 $$t -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 || exit 1; done
