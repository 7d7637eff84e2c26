#!/bin/bash
# bench/run.sh - the measurements of BENCHMARKS.md, reproducibly.
#
#   bench/run.sh [BUILD_DIR]            (default: build; needs est, estd)
#
# Environment knobs (defaults in brackets):
#   DURATION [20]     seconds per est bench run
#   CONC [8]          est bench --concurrency
#   FILL [1000000]    certificates put in the store for the large-store run (0: skip)
#   IDLE [5000]       idle TLS connections for the memory figure (0: skip)
#   KEEP [0]          1: keep the scratch directory
#
# Sets up an EC P-256 CA and an RSA-2048 CA with `estd init`, runs estd
# under /usr/bin/time -v, loads it with `est bench` (TLS client-certificate
# authentication: a password check is a deliberately slow yescrypt hash and
# would be what is measured), measures the crypto bound with `openssl speed`
# in the same run, fills the store with scripts/bench-fill-store.py, holds
# idle connections with bench/idle_conns.py, and prints a markdown table.
# Every row carries the load average before and after it: on a shared
# machine the figures are only as good as that.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BUILD=$(cd "${1:-$REPO/build}" && pwd)
EST=$BUILD/est
ESTD=$BUILD/estd
DURATION=${DURATION:-20}
CONC=${CONC:-8}
FILL=${FILL:-1000000}
IDLE=${IDLE:-5000}
W=$(mktemp -d "${TMPDIR:-/tmp}/estkit-bench.XXXXXX")
ROWS=$W/rows.md
NOTES=$W/notes.txt
ESTD_PID=
TIME_PID=

for tool in "$EST" "$ESTD"; do
	[ -x "$tool" ] || { echo "run.sh: $tool not built" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "run.sh: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cleanup() {
	[ -n "$ESTD_PID" ] && kill "$ESTD_PID" 2>/dev/null || true
	[ -n "$TIME_PID" ] && wait "$TIME_PID" 2>/dev/null || true
	[ "${KEEP:-0}" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT

loadavg() { cut -d' ' -f1 /proc/loadavg; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# CPU seconds (user + system) estd and its signer processes have used so far.
estd_cpu() {
	local p q files="/proc/$ESTD_PID/stat"
	for p in $(pgrep -P "$ESTD_PID" || true); do
		files="$files /proc/$p/stat"
		for q in $(pgrep -P "$p" || true); do files="$files /proc/$q/stat"; done
	done
	# shellcheck disable=SC2086
	cat $files 2>/dev/null | awk -v hz="$(getconf CLK_TCK)" '{ s += $14 + $15 } END { print s / hz }'
}
# 1 when this estd has [ca] signer = process|inline (estd init writes the key).
has_signer() { grep -q '^signer = process$' "$1/estd.conf"; }
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$@"; }

# init DIR KEYTYPE: a server directory with a user and a TLS client certificate.
init() {
	local dir=$1 kt=$2 port
	port=$(free_port)
	"$ESTD" init --dir "$dir" --key-type "$kt" --listen "127.0.0.1:$port" >/dev/null
	# every benchmark connection comes from 127.0.0.1: no per-address limit
	sed -i -e 's/^max_connections = .*/max_connections = 20000/' \
	       -e 's/^max_connections_per_address = .*/max_connections_per_address = 0/' \
	       -e 's/^timeout = .*/timeout = 600/' "$dir/estd.conf"
	printf 'estpwd\n' | "$ESTD" user add estuser -c "$dir/estd.conf" >/dev/null
	echo "$port" > "$dir/port"
}

start() {
	local dir=$1
	/usr/bin/time -v -o "$dir/time.txt" "$ESTD" run -c "$dir/estd.conf" > "$dir/estd.log" 2>&1 &
	TIME_PID=$!
	for _ in $(seq 100); do
		grep -q "listening on" "$dir/estd.log" 2>/dev/null && break
		sleep 0.1
	done
	ESTD_PID=$(pgrep -P "$TIME_PID" -x estd)
	[ -n "$ESTD_PID" ] || { cat "$dir/estd.log" >&2; exit 1; }
}

# stop DIR: SIGTERM, wait; sets RSS to estd's peak RSS in MiB (from time -v).
stop() {
	local dir=$1
	kill "$ESTD_PID"
	wait "$TIME_PID" || true
	ESTD_PID= TIME_PID=
	RSS=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$dir/time.txt")
}

client_cert() {
	local dir=$1
	EST_PASSWORD=estpwd "$EST" enroll --server "https://127.0.0.1:$(cat "$dir/port")" \
		--cacert "$dir/ca.pem" --user estuser --subject CN=bench-client --out "$dir/client" \
		>/dev/null
}

# bench DIR NAME OP [est bench options]: one run; appends a JSON line to DIR/NAME.json
# and a summary "rps p99 est_cpu_cores client_cores load_before load_after" to DIR/NAME.sum.
bench() {
	local dir=$1 name=$2 op=$3 l0 l1 c0 c1
	shift 3
	l0=$(loadavg); c0=$(estd_cpu)
	"$EST" bench --server "https://127.0.0.1:$(cat "$dir/port")" --cacert "$dir/ca.pem" \
		--cert "$dir/client/cert.pem" --key "$dir/client/key.pem" --op "$op" \
		--concurrency "$CONC" --duration "$DURATION" --json "$@" > "$dir/$name.json"
	c1=$(estd_cpu); l1=$(loadavg)
	python3 - "$dir/$name.json" "$c0" "$c1" "$l0" "$l1" > "$dir/$name.sum" <<-'EOF'
	import json, sys
	d = json.load(open(sys.argv[1]))
	cpu = float(sys.argv[3]) - float(sys.argv[2])
	print(f'{d["rps"]:.0f} {d["latency_ms"]["p99"]:.1f} {cpu / d["duration_s"]:.2f} '
	      f'{d["client_cpu"]["cores_used"]:.2f} {sys.argv[4]} {sys.argv[5]} {d["errors"]}')
	EOF
	echo "  $name: $(cat "$dir/$name.sum")  (rps p99ms estd-cores client-cores load0 load1 errors)" >&2
}

# The crypto bound: ops/s per core from openssl speed (-mr lines +F2 rsa, +F4 ecdsa).
speed() {
	openssl speed -mr -seconds 3 ecdsap256 rsa2048 2>/dev/null | awk -F: '
		$1 == "+F2" && $3 == 2048 { print "rsa_sign", $4; print "rsa_verify", $5 }
		$1 == "+F4" && $3 == 256 { print "ec_sign", $4; print "ec_verify", $5 }' > "$W/speed.txt"
}
rate() { awk -v k="$1" '$1 == k { print $2 }' "$W/speed.txt"; }

# bound KIND NEWCONN: enrollments/s if estd did nothing but the signatures and
# verifications one enrollment needs, on all nproc cores. Per enrollment: cert
# sign (CA key), CSR verify (P-256 requests); with a new connection also the
# handshake signature (server key, same type as the CA), the client
# certificate's signature (CA key) and the client's CertificateVerify (P-256).
bound() {
	python3 - "$1" "$2" "$(nproc)" "$(rate ec_sign)" "$(rate ec_verify)" \
		"$(rate rsa_sign)" "$(rate rsa_verify)" <<-'EOF'
	import sys
	kind, newconn, cores = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
	ecs, ecv, rss, rsv = map(float, sys.argv[4:8])
	sign, verify = (ecs, ecv) if kind == "ec" else (rss, rsv)
	t = 1 / sign + 1 / ecv                          # cert sign + CSR verify
	if newconn:
	    t += 1 / sign + 1 / verify + 1 / ecv          # handshake, client cert, CertificateVerify
	print(f"{cores / t:.0f}")
	EOF
}

ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }

row() { echo "| $*" >> "$ROWS"; }

echo "estkit bench: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(openssl version)" >&2
echo "load average at start: $(cat /proc/loadavg)" >&2
speed
echo "openssl speed (ops/s, one core): $(tr '\n' ' ' < "$W/speed.txt")" >&2
# The store commits every certificate with an fsync (WAL, synchronous=FULL) under
# one lock: 1/fsync latency caps the enrollment rate however many cores there are.
python3 - "$W/fsync.test" >> "$NOTES" <<-'EOF'
	import os, sys, time
	fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT)
	t = time.monotonic()
	for _ in range(200):
	    os.write(fd, b"x" * 4096)
	    os.fsync(fd)
	ms = (time.monotonic() - t) / 200 * 1000
	print(f"fsync latency of the store's file system: {ms:.2f} ms, i.e. at most "
	      f"{1000 / ms:.0f} one-at-a-time commits/s")
	EOF
rm -f "$W/fsync.test"

for kt in ec:P-256 rsa:2048; do
	kind=${kt%%:*}
	dir=$W/$kind
	echo "== CA $kt ==" >&2
	init "$dir" "$kt"
	start "$dir"
	client_cert "$dir"
	bench "$dir" enroll-new simpleenroll
	bench "$dir" enroll-ka simpleenroll --keepalive
	bench "$dir" cacerts-ka cacerts --keepalive
	stop "$dir"; rss=$RSS
	sg=
	if has_signer "$dir"; then
		sg=", signer process"
		sed -i 's/^signer = process$/signer = inline/' "$dir/estd.conf"
		start "$dir"
		bench "$dir" enroll-new-inline simpleenroll
		bench "$dir" enroll-ka-inline simpleenroll --keepalive
		stop "$dir"
		sed -i 's/^signer = inline$/signer = process/' "$dir/estd.conf"
	fi
	for s in "" -inline; do
		[ -f "$dir/enroll-new$s.sum" ] || continue
		[ "$s" = -inline ] && sg=", signer inline"
		read -r rps p99 ecores ccores l0 l1 err < "$dir/enroll-new$s.sum"
		b=$(bound "$kind" 1)
		row "enrollments/s, $kt CA$sg, new TLS connection per request | $rps | $p99 | $ecores | $ccores | $b | $(ratio "$rps" "$b") | $l0 → $l1 |"
		read -r rps p99 ecores ccores l0 l1 err < "$dir/enroll-ka$s.sum"
		b=$(bound "$kind" 0)
		row "enrollments/s, $kt CA$sg, keep-alive | $rps | $p99 | $ecores | $ccores | $b | $(ratio "$rps" "$b") | $l0 → $l1 |"
	done
	read -r rps p99 ecores ccores l0 l1 err < "$dir/cacerts-ka.sum"
	row "/cacerts req/s, $kt CA, keep-alive | $rps | $p99 | $ecores | $ccores | – | – | $l0 → $l1 |"
	echo "estd peak RSS ($kt CA, the three runs above): $rss MiB" >> "$NOTES"
done

dir=$W/ec
if [ "$FILL" -gt 0 ]; then
	echo "== store with $FILL certificates ==" >&2
	# the empty-store figure again, just before: both runs under the same load
	start "$dir"
	bench "$dir" enroll-ka-empty simpleenroll --keepalive
	stop "$dir"
	python3 "$REPO/scripts/bench-fill-store.py" --db "$dir/estd.db" --count "$FILL" >&2
	start "$dir"
	bench "$dir" enroll-ka-full simpleenroll --keepalive
	stop "$dir"; rss=$RSS
	read -r rps0 p99 ecores ccores l0 l1 err < "$dir/enroll-ka-empty.sum"
	row "enrollments/s, ec:P-256 CA, keep-alive, store as estd init left it | $rps0 | $p99 | $ecores | $ccores | – | – | $l0 → $l1 |"
	read -r rps p99 ecores ccores l0 l1 err < "$dir/enroll-ka-full.sum"
	row "enrollments/s, ec:P-256 CA, keep-alive, store with $FILL certificates | $rps | $p99 | $ecores | $ccores | – | $(ratio "$rps" "$rps0") of empty store | $l0 → $l1 |"
	echo "estd peak RSS with $FILL certificates in the store: $rss MiB" >> "$NOTES"
fi

if [ "$IDLE" -gt 0 ]; then
	echo "== $IDLE idle TLS connections ==" >&2
	start "$dir"
	l0=$(loadavg)
	python3 "$HERE/idle_conns.py" --port "$(cat "$dir/port")" --cacert "$dir/ca.pem" \
		--pid "$ESTD_PID" --count "$IDLE" > "$W/idle.json"
	l1=$(loadavg)
	stop "$dir"; rss=$RSS
	kib=$(jget "$W/idle.json" 'd["kib_per_connection"]')
	n=$(jget "$W/idle.json" 'd["alive"]')
	row "memory per idle TLS connection ($n held, ec:P-256) | $kib KiB | – | – | – | – | – | $l0 → $l1 |"
	echo "idle connections: $(cat "$W/idle.json"); estd peak RSS $rss MiB" >> "$NOTES"
fi

echo
echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(openssl version | cut -d' ' -f1-2); est bench --concurrency $CONC --duration $DURATION, TLS client-certificate auth, P-256 requests."
echo
echo "| measurement | result | p99 ms | estd cores | client cores | crypto bound/s | achieved/bound | load avg before → after |"
echo "|---|---|---|---|---|---|---|---|"
cat "$ROWS"
echo
echo "openssl speed, one core (ops/s): $(tr '\n' ' ' < "$W/speed.txt")"
cat "$NOTES"
