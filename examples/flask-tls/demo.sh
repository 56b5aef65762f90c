#!/usr/bin/env bash
# The Init-RA flow end to end on the simulated SGX platform (see README "The demo").
#
#   examples/flask-tls/demo.sh [--keep-running] [--check]
#
#   --keep-running  leave the secret server and the Flask service running and print how to query them
#   --check         exit non-zero unless the four answers and the two refusals are exactly as expected
#                   (this is how `make test` runs it)
#
# Everything it creates lives in ./demo-out (recreated on every run). It stops everything it started,
# including leftovers of an earlier run, so it can be run twice in a row.
set -euo pipefail

KEEP=0
CHECK=0
for arg in "$@"; do
    case "$arg" in
        --keep-running) KEEP=1 ;;
        --check) CHECK=1 ;;
        *) echo "demo: unknown argument $arg (expected --keep-running or --check)" >&2; exit 2 ;;
    esac
done

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
EX="$ROOT/examples/flask-tls"
OUT="$ROOT/demo-out"
VENV="$EX/.venv"
INITRA="${INITRA:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/initra}"
SERVER_PORT="${INITRA_DEMO_SERVER_PORT:-50051}"
FLASK_PORT=4996
# Where the unlocked image appears inside init's private namespace (never on the host's disk).
APP_DIR=/srv/initra-flask-demo

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { echo "demo: FAILED: $*" >&2; exit 1; }

# --- 0. stop what an earlier run left behind --------------------------------------------------------
stop_pidfile() {
    local f=$1
    if [ -f "$f" ]; then
        local pid
        pid=$(cat "$f")
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$f"
    fi
}
stop_pidfile "$OUT/flask.pid"
stop_pidfile "$OUT/server.pid"

cleanup() {
    local rc=$?
    if [ "$KEEP" = 0 ] || [ "$rc" != 0 ]; then
        stop_pidfile "$OUT/flask.pid"
        stop_pidfile "$OUT/server.pid"
    fi
    if [ "$rc" != 0 ]; then
        echo "demo: logs are in $OUT/*.log" >&2
    fi
}
trap cleanup EXIT

wait_port() {
    local port=$1 what=$2 pidfile=$3
    for _ in $(seq 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            fail "$what exited before listening on port $port"
        fi
        sleep 0.1
    done
    fail "$what did not listen on port $port within 30 s"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- 1. what the demo needs ---------------------------------------------------------------------------
step "Checking prerequisites"
need_apt=()
command -v openssl >/dev/null || need_apt+=(openssl)
command -v curl >/dev/null || need_apt+=(curl)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing ${need_apt[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
        fail "missing ${need_apt[*]}: install them (e.g. sudo apt-get install ${need_apt[*]})"
    fi
fi
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import flask' 2>/dev/null; then
    echo "creating the Python virtual environment $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$EX/requirements.txt"
fi
# init gives Flask a private in-memory mount namespace (the secrets and the unlocked image never touch the
# host's disk): that needs root, or unprivileged user namespaces.
if ! unshare --mount true 2>/dev/null && ! unshare --user --map-root-user --mount true 2>/dev/null; then
    fail "this machine allows no private mount namespace: run as root (e.g. sudo make demo), or enable unprivileged user namespaces (on Ubuntu 24.04: sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0)"
fi
port_free "$SERVER_PORT" || fail "port $SERVER_PORT is in use by another program (set INITRA_DEMO_SERVER_PORT)"
port_free "$FLASK_PORT" || fail "port $FLASK_PORT is in use by another program"

if [ -z "${INITRA_SKIP_BUILD:-}" ]; then
    step "Building initra"
    (cd "$ROOT" && cargo build -j2 -q -p initra-cli)
fi
[ -x "$INITRA" ] || fail "$INITRA not found"

# --- 2. everything the flow needs ---------------------------------------------------------------------
rm -rf "$OUT"
mkdir -p "$OUT/rootfs"
cd "$OUT"

step "Creating the simulated SGX platform (PKI, signed collateral, trust root)"
"$INITRA" sim init sim

step "Flask's TLS certificate and key (self-signed, CN=localhost)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    -keyout flask.key -out flask.crt 2>/dev/null
chmod 600 flask.key

step "Image key and the encrypted root filesystem image holding the application"
"$INITRA" gen-image-key image_key
cp "$EX/app.py" rootfs/app.py
"$INITRA" image seal --key image_key rootfs flask.img

step "The secret server's store: secret_config.json (Occlum format: name -> base64)"
b64() { base64 -w0 < "$1"; }
cat > secret_config.json <<EOF
{
    "flask_cert": "$(b64 flask.crt)",
    "flask_key": "$(b64 flask.key)",
    "image_key": "$(b64 image_key)"
}
EOF
chmod 600 secret_config.json

step "Measuring the server (its MRENCLAVE goes into the client's ra_config)"
SERVER_MR=$("$INITRA" measure --exe "$INITRA" --sim sim --json)
server_field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$SERVER_MR" "$1"; }
echo "server mr_enclave $(server_field mr_enclave)"

write_init_conf() {
    local file=$1 image=$2 extra_env=$3
    cat > "$file" <<EOF
{
    "kms_server": "localhost:$SERVER_PORT",
    "kms_keys": [
        {"key": "flask_cert", "path": "/etc/flask.crt"},
        {"key": "flask_key", "path": "/etc/flask.key"}
    ],
    "ra_config": {
        "verify_mr_enclave": "on",
        "verify_mr_signer": "on",
        "verify_isv_prod_id": "on",
        "verify_isv_svn": "on",
        "verify_config_svn": "off",
        "verify_enclave_debuggable": "on",
        "sgx_mrs": [{
            "mr_enclave": "$(server_field mr_enclave)",
            "mr_signer": "$(server_field mr_signer)",
            "isv_prod_id": 0, "isv_svn": 0, "config_svn": 0, "debuggable": false
        }]
    },
    "initra": {
        "attester": "sim",
        "sim_dir": "sim",
        "simulated_root": "sim/root-ca.der",
        "collateral": ["sim/collateral.json"],
        "image": {"path": "$image", "type": "encrypted", "mount": "$APP_DIR"},
        "command": ["$VENV/bin/python", "$APP_DIR/app.py"],
        "env": {$extra_env}
    }
}
EOF
}
write_init_conf init_ra_conf.json flask.img ""

step "Measuring the client (init binary + its configuration) for the server's dynamic_config.json"
CLIENT_MR=$("$INITRA" measure --exe "$INITRA" --config init_ra_conf.json --sim sim --json)
client_field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$CLIENT_MR" "$1"; }
echo "client mr_enclave $(client_field mr_enclave)"
cat > dynamic_config.json <<EOF
{
    "verify_mr_enclave": "on",
    "verify_mr_signer": "on",
    "verify_isv_prod_id": "on",
    "verify_isv_svn": "on",
    "verify_config_svn": "off",
    "verify_enclave_debuggable": "on",
    "sgx_mrs": [{
        "mr_enclave": "$(client_field mr_enclave)",
        "mr_signer": "$(client_field mr_signer)",
        "isv_prod_id": 0, "isv_svn": 0, "config_svn": 0, "debuggable": false
    }]
}
EOF

# --- 3. the secret server ------------------------------------------------------------------------------
step "Starting the secret server on 127.0.0.1:$SERVER_PORT (mutual RA-TLS gRPC)"
"$INITRA" --log info server --addr "127.0.0.1:$SERVER_PORT" \
    --ra-config dynamic_config.json --secrets secret_config.json \
    --sim sim --sim-root sim/root-ca.der --collateral sim/collateral.json \
    > server.log 2>&1 &
echo $! > server.pid
wait_port "$SERVER_PORT" "the secret server" server.pid
echo "server pid $(cat server.pid), log $OUT/server.log"

# --- 4. the refusals that matter -------------------------------------------------------------------------
REFUSALS=0
step "Refusal 1: a client whose configuration changed (new measurement) gets no secrets"
write_init_conf init_changed.json flask.img '"EXTRA": "flask_key"'
if "$INITRA" init --config init_changed.json > refusal-config.log 2>&1; then
    fail "init with a changed configuration was not refused"
fi
sed 's/^/    /' refusal-config.log | tail -n 3
if grep -q "mr_enclave" refusal-config.log && port_free "$FLASK_PORT"; then
    echo "    -> refused (mr_enclave mismatch); the service did not start"
    REFUSALS=$((REFUSALS + 1))
fi

step "Refusal 2: a tampered image is refused (the identity is unchanged, so the key is released)"
cp flask.img flask.img.orig
python3 - <<'EOF'
with open("flask.img", "r+b") as f:
    f.seek(-100, 2)
    b = f.read(1)
    f.seek(-100, 2)
    f.write(bytes([b[0] ^ 0x01]))
EOF
if "$INITRA" init --config init_ra_conf.json > refusal-image.log 2>&1; then
    fail "init with a tampered image was not refused"
fi
mv flask.img.orig flask.img
sed 's/^/    /' refusal-image.log | tail -n 3
if grep -qi "image" refusal-image.log && port_free "$FLASK_PORT"; then
    echo "    -> refused (image authentication failed); the service did not start"
    REFUSALS=$((REFUSALS + 1))
fi

# --- 5. the real launch -------------------------------------------------------------------------------
step "Starting initra init: attest, fetch secrets, unlock the image, exec Flask"
"$INITRA" --log info init --config init_ra_conf.json > flask.log 2>&1 &
echo $! > flask.pid
wait_port "$FLASK_PORT" "the Flask service (via initra init)" flask.pid
echo "service pid $(cat flask.pid) (init exec'd into Flask: same pid), log $OUT/flask.log"

step "Talking to the service (curl verifies its certificate with --cacert flask.crt)"
ANSWERS=()
run_curl() {
    printf "$ curl --cacert flask.crt"; printf " %q" "$@"; echo
    local out
    out=$(curl -sS --cacert flask.crt "$@")
    echo "$out"
    ANSWERS+=("$(echo "$out" | tr -d ' \n')")
}
run_curl -X PUT "https://localhost:$FLASK_PORT/customer/1" -d "data=Tom"
run_curl -X PUT "https://localhost:$FLASK_PORT/customer/2" -d "data=Jerry"
run_curl -X GET "https://localhost:$FLASK_PORT/customer/1"
run_curl -X GET "https://localhost:$FLASK_PORT/customer/2"

EXPECTED=('{"1":"Tom"}' '{"2":"Jerry"}' '{"1":"Tom"}' '{"2":"Jerry"}')
OK=1
for i in 0 1 2 3; do
    [ "${ANSWERS[$i]:-}" = "${EXPECTED[$i]}" ] || OK=0
done

step "The secrets never touched the host's disk"
for p in /etc/flask.crt /etc/flask.key "$APP_DIR"; do
    if [ -e "$p" ]; then echo "    $p exists on the host!"; OK=0; else echo "    $p: not on the host (only inside the service's namespace)"; fi
done

if [ "$CHECK" = 1 ]; then
    [ "$OK" = 1 ] || fail "unexpected answers: ${ANSWERS[*]}"
    [ "$REFUSALS" = 2 ] || fail "expected 2 refusals, saw $REFUSALS (see $OUT/refusal-*.log)"
    echo
    echo "demo check: 4 answers as expected, 2 refusals as expected"
fi

if [ "$KEEP" = 1 ]; then
    cat <<EOF

The secret server and the Flask service are still running (pids $(cat server.pid), $(cat flask.pid)).
Try by hand, from $OUT:
    cd $OUT
    curl --cacert flask.crt -X PUT https://localhost:$FLASK_PORT/customer/3 -d "data=Spike"
    curl --cacert flask.crt https://localhost:$FLASK_PORT/customer/3
Stop them with:
    kill \$(cat $OUT/flask.pid) \$(cat $OUT/server.pid)
EOF
else
    step "Stopping everything the demo started"
fi
