#!/bin/sh
# site-policy.sh - an estd signing program (backend = command) that applies
# a site policy, then hands the request to another signing program:
#
#   command = /usr/local/lib/estd/site-policy.sh example.com pending \
#             /usr/local/lib/estd/openssl-sign.sh /etc/estd/lab-ca
#
# - the request's CN must be DOMAIN or end in .DOMAIN, else it is rejected
#   (exit 1, the reason on stderr: estd answers 403 with it);
# - a request whose subject has OU=PENDING_OU is held (exit 2, stdout says
#   "300": estd answers 202 with Retry-After: 300);
# - anything else goes to SIGNER ARGS... with the same stdin and environment.
#
# The subject comes from ESTD_CSR_SUBJECT (RFC 2253, set by estd); who asked
# from ESTD_IDENTITY. Both come from the client: they are compared here,
# never evaluated.
set -eu
DOMAIN=${1:?usage: site-policy.sh DOMAIN PENDING_OU SIGNER [ARGS...]}
PENDING_OU=${2:?usage: site-policy.sh DOMAIN PENDING_OU SIGNER [ARGS...]}
shift 2
[ $# -ge 1 ] || { echo "usage: site-policy.sh DOMAIN PENDING_OU SIGNER [ARGS...]" >&2; exit 3; }
subject=${ESTD_CSR_SUBJECT:-}
cn=
ou=
# RFC 2253 is comma-separated; escaped commas inside values are rare enough
# that a CN containing one is simply refused below
old_ifs=$IFS
IFS=,
for rdn in $subject; do
	case $rdn in
	CN=*) cn=${rdn#CN=} ;;
	OU=*) ou=${rdn#OU=} ;;
	esac
done
IFS=$old_ifs
case $cn in
"$DOMAIN"|*."$DOMAIN") ;;
*) echo "CN '$cn' is not under $DOMAIN" >&2; exit 1 ;;
esac
case $cn in *[!A-Za-z0-9.-]*) echo "CN '$cn' has characters a host name cannot have" >&2; exit 1 ;; esac
if [ "$ou" = "$PENDING_OU" ]; then
	echo 300
	exit 2
fi
exec "$@"
