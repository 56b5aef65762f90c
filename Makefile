# The two commands of the README: `make demo` (the full Init-RA demo on the simulated platform)
# and `make test` (every Rust test, the Python interop test and the demo as an end-to-end check).
CARGO ?= cargo
JOBS ?= 2

.PHONY: demo demo-keep test test-rust test-python test-demo lint bench

demo:
	examples/flask-tls/demo.sh

demo-keep:
	examples/flask-tls/demo.sh --keep-running

test: test-rust test-python test-demo

test-rust:
	$(CARGO) build -j$(JOBS) -p initra-cli
	$(CARGO) test -j$(JOBS) --workspace

test-python: examples/flask-tls/.venv/bin/python
	examples/flask-tls/.venv/bin/python tests/python/test_grpcio.py target/debug/initra

examples/flask-tls/.venv/bin/python: examples/flask-tls/requirements.txt tests/python/requirements.txt
	python3 -m venv examples/flask-tls/.venv
	examples/flask-tls/.venv/bin/pip install -q --disable-pip-version-check \
		-r examples/flask-tls/requirements.txt -r tests/python/requirements.txt
	touch $@

test-demo:
	INITRA_SKIP_BUILD=1 examples/flask-tls/demo.sh --check

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy -j$(JOBS) --workspace --all-targets -- -D warnings

bench:
	$(CARGO) bench -j$(JOBS) --workspace
