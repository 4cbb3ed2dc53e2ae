#!/usr/bin/env bash
# Starts the local PostgreSQL (Debian's `postgresql` package) and makes a role and database
# for Railyard's tests, then prints the URL to put in RAILYARD_TEST_POSTGRES_URL:
#
#   export RAILYARD_TEST_POSTGRES_URL=$(scripts/postgres-test-db.sh)
#   cargo nextest run -p railyard-store
#
# Usage: scripts/postgres-test-db.sh [DATABASE]   (default: railyard_test)
# Environment: PGPORT (default 5432). The role `railyard` (password `railyard`) gets CREATEDB,
# because each store test makes and drops a fresh database of its own next to DATABASE.
# Safe to run again: a running server, an existing role or database are left as they are.
# Installs the package when missing. Needs root. Progress goes to stderr, only the URL to stdout.
set -euo pipefail
# Only the URL may reach stdout: whatever apt, pg_ctlcluster or su print goes to stderr, so
# that `$(scripts/postgres-test-db.sh)` captures the URL alone.
exec 3>&1 1>&2

db=${1:-railyard_test}
port=${PGPORT:-5432}
role=railyard
password=railyard

case $db in
  *[!a-zA-Z0-9_]* | "") echo "database name must be letters, digits and _: $db" >&2; exit 2 ;;
esac

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "installing postgresql" >&2
  if ! apt-get install -y -qq postgresql >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  fi
fi

# The newest installed major version and its first cluster (Debian creates `main`).
version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
cluster=$(pg_lsclusters -h 2>/dev/null | awk -v v="$version" '$1 == v { print $2; exit }')
if [ -z "$cluster" ]; then
  echo "creating cluster $version/main" >&2
  pg_createcluster "$version" main -p "$port" >/dev/null
  cluster=main
fi
if ! pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { print $4 }' | grep -q online; then
  echo "starting PostgreSQL $version/$cluster" >&2
  # The server outlives this script: it must hold none of our descriptors. Holding the pipe
  # of `$(scripts/postgres-test-db.sh)` open (fd 3 here) kept that substitution, and CI with
  # it, waiting forever.
  pg_ctlcluster "$version" "$cluster" start </dev/null >/dev/null 2>&1 3>&- \
    || service postgresql start </dev/null >/dev/null 2>&1 3>&-
fi
port=$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { print $3 }')

psql_admin() { su postgres -c "psql -p $port -v ON_ERROR_STOP=1 -qAt $*"; }

for _ in $(seq 1 50); do
  psql_admin "-c 'select 1'" >/dev/null 2>&1 && break
  sleep 0.2
done

if [ "$(psql_admin "-c \"select 1 from pg_roles where rolname = '$role'\"")" != 1 ]; then
  psql_admin "-c \"create role $role login createdb password '$password'\"" >/dev/null
fi
if [ "$(psql_admin "-c \"select 1 from pg_database where datname = '$db'\"")" != 1 ]; then
  psql_admin "-c \"create database $db owner $role\"" >/dev/null
fi

url="postgres://$role:$password@127.0.0.1:$port/$db"
# The tests connect over TCP with a password: prove that works before handing the URL out.
if ! psql -d "$url" -qAtc 'select 1' >/dev/null; then
  echo "PostgreSQL is up but $url does not accept connections (see pg_hba.conf)"
  exit 1
fi
echo "$url" >&3
