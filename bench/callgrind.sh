#!/bin/bash
# bench/callgrind.sh - where estd's CPU goes, in instructions (BENCHMARKS.md,
# "Where estd's CPU goes"). Instruction counts do not depend on the load of a
# shared machine, so two runs give the same figures to a fraction of a percent.
#
#   bench/callgrind.sh [BUILD_DIR]      (default: build; needs est, estd, valgrind, cc)
#
# Environment knobs (defaults in brackets):
#   N [200]           requests measured per operation
#   WARM [50]         requests of the base run (see below)
#   KEYTYPE [ec:P-256]  the CA's key type (estd init --key-type)
#   SIGNERS ["inline process"]  [ca] signer modes to measure enrollments with
#   TOP [25]          functions listed per measurement
#   KEEP [0]          1: keep the scratch directory (callgrind files, logs)
#   IMPLICIT [0]      1: also an [auth] implicit_ca (a throw-away third-party CA),
#                     so every connection's client certificate is checked against
#                     the explicit anchors alone (RFC 7030 3.3.2)
#   REENROLL [0]      1: also measure keep-alive /simplereenroll (signer inline)
#
# For each measurement estd runs twice under valgrind --tool=callgrind (with
# --trace-children=yes, so signer workers are counted too): once serving WARM
# requests and once WARM + N, from one `est bench --keepalive --concurrency 1
# --requests` client with a TLS client certificate (as bench/run.sh). Startup,
# shutdown and the first requests' one-time work are identical in both, so
# (Ir(WARM + N) - Ir(WARM)) / N is the cost of one request; per function the
# same difference of callgrind_annotate --inclusive=yes (bench/cg_per_request.py).
# The crypto alone: bench/crypto_ir.c (one P-256 signature + one verification
# per iteration) under callgrind with 100 and 100 + N iterations.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BUILD=$(cd "${1:-$REPO/build}" && pwd)
EST=$BUILD/est
ESTD=$BUILD/estd
N=${N:-200}
WARM=${WARM:-50}
KEYTYPE=${KEYTYPE:-ec:P-256}
SIGNERS=${SIGNERS:-inline process}
TOP=${TOP:-25}
W=$(mktemp -d "${TMPDIR:-/tmp}/estkit-callgrind.XXXXXX")
VG_PID=

for tool in "$EST" "$ESTD"; do
	[ -x "$tool" ] || { echo "callgrind.sh: $tool not built" >&2; exit 1; }
done
for tool in valgrind callgrind_annotate cc python3; do
	command -v "$tool" >/dev/null || { echo "callgrind.sh: $tool missing" >&2; exit 1; }
done

cleanup() {
	[ -n "$VG_PID" ] && kill "$VG_PID" 2>/dev/null || true
	if [ "${KEEP:-0}" = 1 ]; then
		echo "callgrind.sh: files kept in $W" >&2
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# descendants PID: every process below PID (the signer supervisor and workers)
descendants() {
	local p
	for p in $(pgrep -P "$1" || true); do echo "$p"; descendants "$p"; done
}

dir=$W/srv
port=$(free_port)
"$ESTD" init --dir "$dir" --key-type "$KEYTYPE" --listen "127.0.0.1:$port" >/dev/null
printf 'estpwd\n' | "$ESTD" user add estuser -c "$dir/estd.conf" >/dev/null
if [ "${IMPLICIT:-0}" = 1 ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=thirdparty \
		-keyout "$W/implicit.key" -out "$dir/implicit.pem" -days 2 \
		-addext basicConstraints=critical,CA:TRUE 2>/dev/null
	sed -i 's/^\[auth\]$/[auth]\nimplicit_ca = implicit.pem/' "$dir/estd.conf"
fi

# run NAME REQUESTS OP: estd under callgrind serving REQUESTS requests of OP.
run() {
	local name=$1 count=$2 op=$3 kids p
	rm -f "$W/$name".cg.*
	valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$W/$name.cg.%p" \
		"$ESTD" run -c "$dir/estd.conf" > "$W/$name.log" 2>&1 &
	VG_PID=$!
	for _ in $(seq 600); do
		grep -q "listening on" "$W/$name.log" 2>/dev/null && break
		sleep 0.1
	done
	grep -q "listening on" "$W/$name.log" || { cat "$W/$name.log" >&2; exit 1; }
	if [ "$count" -gt 0 ]; then
		"$EST" bench --server "https://127.0.0.1:$port" --cacert "$dir/ca.pem" \
			--cert "$dir/client/cert.pem" --key "$dir/client/key.pem" --op "$op" \
			--keepalive --concurrency 1 --requests "$count" --json > "$W/$name.json"
		python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d["errors"] != 0 or d["ok"] != int(sys.argv[2]))' \
			"$W/$name.json" "$count" ||
			{ echo "callgrind.sh: $name: $(cat "$W/$name.json")" >&2; exit 1; }
	fi
	kids=$(descendants "$VG_PID")
	kill "$VG_PID"
	wait "$VG_PID" || true
	VG_PID=
	# the signer processes write their files when they exit
	for p in $kids; do
		for _ in $(seq 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
}

# measure TITLE OP: the two runs and the per-request table
measure() {
	local title=$1 op=$2 tag
	tag=$(echo "$title" | tr -c 'a-z0-9\n' '-')
	echo "== $title ==" >&2
	run "$tag-base" "$WARM" "$op"
	run "$tag-more" $((WARM + N)) "$op"
	echo
	echo "### $title"
	echo
	python3 "$HERE/cg_per_request.py" --top "$TOP" "$W/$tag-base".cg.* -- "$W/$tag-more".cg.* "$N"
}

# a TLS client certificate, enrolled with a password once (not measured)
sed -i 's/^signer = process$/signer = inline/' "$dir/estd.conf"
"$ESTD" run -c "$dir/estd.conf" > "$W/enroll.log" 2>&1 &
VG_PID=$!
for _ in $(seq 100); do grep -q "listening on" "$W/enroll.log" && break; sleep 0.1; done
EST_PASSWORD=estpwd "$EST" enroll --server "https://127.0.0.1:$port" --cacert "$dir/ca.pem" \
	--user estuser --subject CN=bench-client --out "$dir/client" >/dev/null
kill "$VG_PID"; wait "$VG_PID" || true; VG_PID=

echo "estkit callgrind: $(valgrind --version), $(openssl version), CA $KEYTYPE, N=$N, WARM=$WARM" >&2
for s in $SIGNERS; do
	if grep -q '^signer = ' "$dir/estd.conf"; then
		sed -i "s/^signer = .*/signer = $s/" "$dir/estd.conf"
	elif [ "$s" != inline ]; then
		continue # a CA without [ca] signer (PKCS#11) signs inline
	fi
	measure "keep-alive /simpleenroll, signer $s" simpleenroll
done
sed -i 's/^signer = .*/signer = inline/' "$dir/estd.conf"
if [ "${REENROLL:-0}" = 1 ]; then
	measure "keep-alive /simplereenroll, signer inline" simplereenroll
fi
measure "keep-alive /cacerts" cacerts

cc -O2 -Wall -Wextra -Werror -o "$W/crypto_ir" "$HERE/crypto_ir.c" -lcrypto
for n in 100 $((100 + N)); do
	valgrind --tool=callgrind --callgrind-out-file="$W/crypto-$n.cg" "$W/crypto_ir" "$n" 2>/dev/null
done
echo
echo "### the crypto alone: one ECDSA P-256 signature + one verification (bench/crypto_ir.c)"
echo
python3 "$HERE/cg_per_request.py" --top 8 "$W/crypto-100.cg" -- "$W/crypto-$((100 + N)).cg" "$N"
