#!/usr/bin/env bash
# demo.sh BUILD_DIR - a demo CA and estd on localhost, and one enrollment with est.
#
# Run from anywhere; works in the repository root. Makes ./demo (an old one is
# deleted): demo/server is the estd directory made by `estd init`, demo/client
# what the client got. estd runs only while the script runs. ESTKIT_DEMO_DIR
# names another directory instead of ./demo (the tests use a throw-away one).
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
EST="$BUILD/est"
ESTD="$BUILD/estd"
DEMO=${ESTKIT_DEMO_DIR:-demo}
SRV=$DEMO/server
CLI=$DEMO/client
LOG=$SRV/estd.log
USER_NAME=estuser
USER_PASSWORD=estpwd
ESTD_PID=

say() { printf '\n== %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# On any exit: stop estd if it still runs; on failure show why.
on_exit() {
	local rc=$?
	if [ -n "$ESTD_PID" ] && kill -0 "$ESTD_PID" 2>/dev/null; then
		kill -TERM "$ESTD_PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$ESTD_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$ESTD_PID" 2>/dev/null || true
	fi
	if [ "$rc" -ne 0 ]; then
		printf '\ndemo FAILED (exit %s)\n' "$rc" >&2
		if [ -f "$LOG" ]; then
			printf -- '--- last lines of %s\n' "$LOG" >&2
			tail -n 30 "$LOG" >&2
		fi
	fi
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

{ [ -x "$EST" ] && [ -x "$ESTD" ]; } || die "est and estd not found in $BUILD (build first: make build)"
for tool in openssl curl; do
	command -v "$tool" >/dev/null || die "$tool is needed (scripts/install-deps.sh)"
done

# Port 8443 (or ESTKIT_DEMO_PORT) unless something already listens there.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=${ESTKIT_DEMO_PORT:-8443}
if port_busy "$PORT"; then
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null) ||
		PORT=$(( (RANDOM % 20000) + 30000 ))
	echo "demo: port ${ESTKIT_DEMO_PORT:-8443} is taken, using $PORT"
fi
URL="https://127.0.0.1:$PORT"

say "estd init --dir $SRV: a new CA, a TLS certificate for localhost, the store"
rm -rf "$DEMO"
mkdir -p "$CLI"
"$ESTD" init --dir "$SRV" --listen "127.0.0.1:$PORT"
# [server] listen is the key that sets the address; make sure it says our port.
if ! grep -Eq "^[[:space:]]*listen[[:space:]]*=[[:space:]]*127\.0\.0\.1:${PORT}[[:space:]]*$" "$SRV/estd.conf"; then
	sed -i -E "s/^([[:space:]]*listen[[:space:]]*=).*/\1 127.0.0.1:$PORT/" "$SRV/estd.conf"
fi

say "estd user add $USER_NAME (password on stdin)"
printf '%s\n' "$USER_PASSWORD" | "$ESTD" user add "$USER_NAME" -c "$SRV/estd.conf"

say "estd run -c $SRV/estd.conf (log: $LOG)"
"$ESTD" run -c "$SRV/estd.conf" >"$LOG" 2>&1 &
ESTD_PID=$!
for _ in $(seq 200); do
	grep -q "listening on" "$LOG" 2>/dev/null && break
	kill -0 "$ESTD_PID" 2>/dev/null || die "estd exited before it was ready"
	sleep 0.1
done
grep -q "listening on" "$LOG" || die "estd not ready after 20 s"
grep "listening on" "$LOG"

say "est cacerts: fetch the CA certificates, trusting only the CA's fingerprint"
FP=$(openssl x509 -fingerprint -sha256 -noout -in "$SRV/ca.pem" | cut -d= -f2)
echo "CA fingerprint (SHA-256): $FP"
"$EST" cacerts --server "$URL" --insecure-bootstrap --fingerprint "$FP" --out "$CLI/cacerts.pem"
echo "wrote $CLI/cacerts.pem"

say "est enroll: a new key and certificate for demo-device"
EST_PASSWORD=$USER_PASSWORD "$EST" enroll --server "$URL" --cacert "$CLI/cacerts.pem" \
	--user "$USER_NAME" --subject "/CN=demo-device" --san DNS:demo-device.example \
	--out "$CLI"

say "issued"
openssl x509 -in "$CLI/cert.pem" -noout -subject -serial -issuer -dates
openssl x509 -in "$CLI/cert.pem" -noout -ext subjectAltName
openssl verify -CAfile "$SRV/ca.pem" "$CLI/cert.pem"
cat <<EOF

files:
  $CLI/cert.pem    the new certificate
  $CLI/key.pem     its private key (mode 0600)
  $CLI/chain.pem   the CA chain
  $SRV/            the server: ca.pem ca.key tls.pem tls.key estd.conf estd.db users
  $LOG     the server log (one access line per request)
EOF

say "the same by hand with curl and openssl, while estd runs on port $PORT"
cat <<EOF
  curl $URL/.well-known/est/cacerts --cacert $SRV/ca.pem -o cacerts.p7
  openssl base64 -d -in cacerts.p7 | openssl pkcs7 -inform DER -print_certs
  openssl req -new -newkey rsa:2048 -nodes -keyout key.pem -outform DER -out csr.der -subj /CN=by-hand
  openssl base64 -in csr.der -out csr.b64
  curl $URL/.well-known/est/simpleenroll --anyauth -u $USER_NAME:$USER_PASSWORD --cacert $SRV/ca.pem \\
       --data-binary @csr.b64 -H "Content-Type: application/pkcs10" -o cert.p7
  openssl base64 -d -in cert.p7 | openssl pkcs7 -inform DER -print_certs -out cert.pem
  openssl verify -CAfile $SRV/ca.pem cert.pem
(start the server again with: $ESTD run -c $SRV/estd.conf)
EOF

say "stopping estd (SIGTERM)"
kill -TERM "$ESTD_PID"
rc=0
wait "$ESTD_PID" || rc=$?
ESTD_PID=
[ "$rc" -eq 0 ] || die "estd exited with $rc after SIGTERM"
echo "estd stopped cleanly"
echo
echo "demo OK"
