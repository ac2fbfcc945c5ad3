#!/usr/bin/env bash
# A local PostgreSQL server for the gradebook tests (tests/test_postgres.py), on Debian.
#
# Installs Debian's `postgresql` when it is missing, starts its cluster listening on
# 127.0.0.1 only, and creates (or refreshes) a role and a database owned by it. Progress goes
# to stderr; stdout is one line to evaluate, so a caller can do
#
#     pg_env="$(.ci/postgres.sh)" && eval "$pg_env"
#
# which exports MINIGRAD_TEST_PG_URL. Run it as root (apt-get, and psql as `postgres`).
# It can be run again: the server is left running and the role gets a new password.
# Settings: MINIGRAD_PG_ROLE (default minigrad), MINIGRAD_PG_DB (default minigrad_test),
# MINIGRAD_PG_PORT (default: the cluster's port, 5432 on a fresh machine).
set -euo pipefail

role="${MINIGRAD_PG_ROLE:-minigrad}"
db="${MINIGRAD_PG_DB:-minigrad_test}"

say() { echo "postgres.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

case "$role$db" in
  *[!a-z0-9_]*) die "role and database names must be lowercase letters, digits and _ (got '$role', '$db')" ;;
esac
[ "$(id -u)" = 0 ] || die "run as root: it installs packages and runs psql as the postgres user"

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and apt-get is not available"
  say "installing postgresql with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi

# The first cluster Debian knows of; create one if the package made none.
read -r version cluster _ < <(pg_lsclusters -h | head -n 1) || true
if [ -z "${version:-}" ]; then
  version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
  cluster=main
  say "creating cluster $version/$cluster"
  pg_createcluster "$version" "$cluster" >&2
fi

# Listen on the loopback address only (a drop-in read after postgresql.conf); a port can
# be asked for.
conf_dir="/etc/postgresql/$version/$cluster/conf.d"
settings="# written by .ci/postgres.sh"$'\n'"listen_addresses = '127.0.0.1'"
if [ -n "${MINIGRAD_PG_PORT:-}" ]; then
  settings="$settings"$'\n'"port = ${MINIGRAD_PG_PORT}"
fi
changed=0
if [ "$(cat "$conf_dir/minigrad.conf" 2>/dev/null || true)" != "$settings" ]; then
  mkdir -p "$conf_dir"
  printf '%s\n' "$settings" >"$conf_dir/minigrad.conf.new"
  mv "$conf_dir/minigrad.conf.new" "$conf_dir/minigrad.conf"
  changed=1
fi
port="${MINIGRAD_PG_PORT:-$(pg_conftool -s "$version" "$cluster" show port 2>/dev/null || echo 5432)}"

status="$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c {print $4}')"
if [ "$status" = online ] && [ "$changed" = 1 ]; then
  say "restarting cluster $version/$cluster (settings changed)"
  pg_ctlcluster "$version" "$cluster" restart >&2
elif [ "$status" != online ]; then
  say "starting cluster $version/$cluster on 127.0.0.1:$port"
  pg_ctlcluster "$version" "$cluster" start >&2
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 1
done
pg_isready -q -h 127.0.0.1 -p "$port" || die "the server does not answer on 127.0.0.1:$port"

# A fresh password each run (letters and digits only, so the URL needs no escaping).
password="$(tr -dc 'a-z0-9' </dev/urandom | head -c 24 || true)"
[ "${#password}" = 24 ] || die "could not generate a password"

psql_admin() { (cd / && su postgres -s /bin/sh -c "psql -X -q -p $port -v ON_ERROR_STOP=1 $*"); }

psql_admin >&2 <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') THEN
    CREATE ROLE $role LOGIN;
  END IF;
END
\$\$;
ALTER ROLE $role WITH LOGIN PASSWORD '$password';
SQL
if [ "$(psql_admin -tA -c "\"SELECT 1 FROM pg_database WHERE datname = '$db'\"")" != 1 ]; then
  say "creating database $db owned by $role"
  psql_admin -c "\"CREATE DATABASE $db OWNER $role\"" >&2
fi

url="postgresql://$role:$password@127.0.0.1:$port/$db"
psql -X -q -tA "$url" -c "SELECT 1" >/dev/null || die "could not connect as $role to $db"
say "ready: $role@127.0.0.1:$port/$db"
echo "export MINIGRAD_TEST_PG_URL='$url'"
