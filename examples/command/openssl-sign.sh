#!/bin/sh
# openssl-sign.sh - an estd signing program (backend = command) that signs
# the request with `openssl x509 -req` and a CA kept in a directory.
#
#   [label lab]
#   backend = command
#   command = /usr/local/lib/estd/openssl-sign.sh /etc/estd/lab-ca 365
#
# CADIR holds ca.pem (the CA certificate) and ca.key (its key, readable by
# the estd user only). DAYS defaults to 365. The request arrives on stdin
# as base64 (command_input = base64, the default) or DER (command_input =
# der); the certificate goes to stdout as PEM, followed by the CA
# certificate. Exit 0 = issued; anything going wrong exits 3 (estd answers
# 500 and logs the first line of stderr). The requested subjectAltName is
# copied; nothing else of the request is trusted.
set -eu
umask 077
CADIR=${1:?usage: openssl-sign.sh CADIR [DAYS]}
DAYS=${2:-365}
case $DAYS in ''|*[!0-9]*) echo "DAYS must be a number" >&2; exit 3 ;; esac
tmp=$(mktemp -d) || exit 3
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/in"
# DER starts with a SEQUENCE byte (0x30); anything else is base64
if [ "$(head -c 1 "$tmp/in" | od -An -tx1 | tr -d ' \n')" = "30" ]; then
	cp "$tmp/in" "$tmp/req.der"
else
	openssl base64 -d -in "$tmp/in" -out "$tmp/req.der" 2>/dev/null || {
		echo "request is not base64" >&2; exit 3; }
fi
if ! openssl x509 -req -inform DER -in "$tmp/req.der" -CA "$CADIR/ca.pem" \
	-CAkey "$CADIR/ca.key" -days "$DAYS" -sha256 \
	-set_serial "0x$(openssl rand -hex 16)" -copy_extensions copyall \
	-out "$tmp/cert.pem" 2>"$tmp/err"; then
	echo "openssl x509 -req failed: $(head -n 1 "$tmp/err")" >&2
	exit 3
fi
cat "$tmp/cert.pem" "$CADIR/ca.pem"
