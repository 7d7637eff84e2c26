#!/usr/bin/env bash
# Installs the Debian 12 packages estkit needs to build, test and run.
# Idempotent: packages already present are skipped; apt-get runs only when something is missing.
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config
  libssl-dev openssl
  libevent-dev
  libcurl4-openssl-dev curl
  libsqlite3-dev sqlite3
  libpq-dev postgresql
  libinih-dev
  libcrypt-dev
  libcmocka-dev
  python3 python3-pytest
  clang libclang-rt-14-dev
  softhsm2 libengine-pkcs11-openssl opensc
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
