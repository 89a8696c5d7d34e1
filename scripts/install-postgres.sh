#!/usr/bin/env bash
# Makes Debian's PostgreSQL server binaries available for the self-tests (they start a throwaway cluster of their
# own under /tmp; no service is started here). Installs the `postgresql` package when missing and we are root.
set -euo pipefail
if ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "PostgreSQL binaries missing: install Debian's postgresql package (sudo apt-get install postgresql)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends postgresql >/dev/null
ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null
