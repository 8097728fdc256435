#!/bin/sh
# Creates the platform's databases and login roles in the metadata PostgreSQL instance and
# converges them on every run: whatever already exists and matches is left alone, so a second
# run changes nothing. Shipped by the mlops.eks_platform rds_metadata role, which runs it in a
# Kubernetes Job (the RDS instance is private, only the cluster's nodes reach it); the
# collection's tests run the same file against a real PostgreSQL server.
#
# Input, all from the environment:
#   PGHOST PGPORT PGUSER PGPASSWORD  the instance's master user (CREATEDB and CREATEROLE, not a
#                                    superuser: what RDS gives its master user)
#   PGDATABASE                       maintenance database (default: postgres)
#   PGSSLMODE                        require on RDS (rds.force_ssl)
#   RDS_METADATA_APPS                space-separated application keys, e.g. "airflow mlflow"
#   <KEY>_DATABASE <KEY>_USERNAME <KEY>_PASSWORD   per application, KEY upper-cased
#
# For each application: a LOGIN role (no other attributes) with the given password, a UTF8
# database owned by it, CONNECT and TEMPORARY on that database revoked from PUBLIC (so one
# application's user cannot even connect to the other's database). A password is only set when
# logging in with it fails, so reruns keep the server's stored verifier; rotating a password
# means changing <KEY>_PASSWORD and running the script again.
#
# Output: one line per object and action ("created", "updated", "unchanged"), then
# "rds_metadata: changed=true" or "rds_metadata: changed=false". Passwords never appear in
# the output or on a command line (psql reads them from its environment with \getenv).
set -eu

export PGDATABASE="${PGDATABASE:-postgres}"
: "${PGHOST:?PGHOST is not set}"
: "${PGUSER:?PGUSER is not set}"
: "${RDS_METADATA_APPS:?RDS_METADATA_APPS is not set (space-separated application keys)}"

changed=false

say() {
  printf 'rds_metadata: %s\n' "$*"
}

die() {
  printf 'rds_metadata: ERROR: %s\n' "$*" >&2
  exit 1
}

# psql as the master user on the maintenance database; SQL on stdin, psql variables with -v.
master_sql() {
  psql -X -q -t -A -v ON_ERROR_STOP=1 "$@"
}

# Lower-case PostgreSQL identifier of at most 63 characters: nothing that needs quoting.
valid_identifier() {
  case $1 in
    '' | [0-9]* | *[!a-z0-9_]*) return 1 ;;
  esac
  [ "${#1}" -le 63 ]
}

# Read every application's settings before touching the server, so bad input changes nothing.
for app in $RDS_METADATA_APPS; do
  key=$(printf '%s' "$app" | tr 'abcdefghijklmnopqrstuvwxyz-' 'ABCDEFGHIJKLMNOPQRSTUVWXYZ_')
  for field in DATABASE USERNAME PASSWORD; do
    value=$(printenv "${key}_${field}" || true)
    [ -n "$value" ] || die "${key}_${field} is not set (application '$app')"
  done
  valid_identifier "$(printenv "${key}_DATABASE")" \
    || die "${key}_DATABASE must be a lower-case identifier (letters, digits, _; at most 63)"
  valid_identifier "$(printenv "${key}_USERNAME")" \
    || die "${key}_USERNAME must be a lower-case identifier (letters, digits, _; at most 63)"
done

# The instance may still be settling (DNS, security groups): retry the first connection.
attempt=1
until master_sql -c 'SELECT 1' >/dev/null 2>&1; do
  [ "$attempt" -lt "${RDS_METADATA_CONNECT_ATTEMPTS:-30}" ] \
    || die "cannot connect to ${PGHOST}:${PGPORT:-5432}/${PGDATABASE} as ${PGUSER}: $(master_sql -c 'SELECT 1' 2>&1 | head -n 1)"
  attempt=$((attempt + 1))
  sleep "${RDS_METADATA_CONNECT_DELAY:-5}"
done
server_version=$(master_sql -c 'SHOW server_version_num')
# PostgreSQL 16 separates role membership from the right to SET ROLE (needed to own objects).
if [ "$server_version" -ge 160000 ]; then member_right=SET; else member_right=MEMBER; fi

for app in $RDS_METADATA_APPS; do
  key=$(printf '%s' "$app" | tr 'abcdefghijklmnopqrstuvwxyz-' 'ABCDEFGHIJKLMNOPQRSTUVWXYZ_')
  db=$(printenv "${key}_DATABASE")
  user=$(printenv "${key}_USERNAME")
  password=$(printenv "${key}_PASSWORD")
  app_changed=false

  # --- login role -------------------------------------------------------------------------
  role_state=$(master_sql -v name="$user" <<'SQL'
SELECT CASE WHEN rolcanlogin THEN 'login' ELSE 'nologin' END FROM pg_roles WHERE rolname = :'name';
SQL
)
  if [ -z "$role_state" ]; then
    RDS_METADATA_SECRET="$password" master_sql -v name="$user" <<'SQL'
\getenv pw RDS_METADATA_SECRET
-- Keep the statement that carries the password out of the server log where we are allowed to.
DO $$ BEGIN PERFORM set_config('log_statement', 'none', false); EXCEPTION WHEN insufficient_privilege THEN NULL; END $$;
CREATE ROLE :"name" LOGIN PASSWORD :'pw';
SQL
    say "role $user created"
    app_changed=true
  elif [ "$role_state" = nologin ]; then
    master_sql -v name="$user" <<'SQL'
ALTER ROLE :"name" LOGIN;
SQL
    say "role $user updated (LOGIN)"
    app_changed=true
  fi

  # The master user must be able to act as the role to create and own its database.
  can_act=$(master_sql -v name="$user" -v right="$member_right" <<'SQL'
SELECT pg_has_role(current_user, :'name', :'right');
SQL
)
  if [ "$can_act" != t ]; then
    master_sql -v name="$user" <<'SQL'
GRANT :"name" TO CURRENT_USER;
SQL
    say "role $user granted to $PGUSER"
    app_changed=true
  fi

  # --- database ---------------------------------------------------------------------------
  owner=$(master_sql -v db="$db" <<'SQL'
SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :'db';
SQL
)
  if [ -z "$owner" ]; then
    master_sql -v db="$db" -v name="$user" <<'SQL'
CREATE DATABASE :"db" OWNER :"name" ENCODING 'UTF8' TEMPLATE template0;
SQL
    say "database $db created (owner $user)"
    app_changed=true
  elif [ "$owner" != "$user" ]; then
    master_sql -v db="$db" -v name="$user" <<'SQL'
ALTER DATABASE :"db" OWNER TO :"name";
SQL
    say "database $db updated (owner $owner -> $user)"
    app_changed=true
  fi

  public_grants=$(master_sql -v db="$db" <<'SQL'
SELECT count(*) FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
 WHERE d.datname = :'db' AND a.grantee = 0 AND a.privilege_type IN ('CONNECT', 'TEMPORARY');
SQL
)
  if [ "$public_grants" != 0 ]; then
    master_sql -v db="$db" <<'SQL'
REVOKE CONNECT, TEMPORARY ON DATABASE :"db" FROM PUBLIC;
SQL
    say "database $db updated (CONNECT, TEMPORARY revoked from PUBLIC)"
    app_changed=true
  fi

  # --- password: set only when logging in with it fails -----------------------------------
  if ! PGUSER="$user" PGPASSWORD="$password" PGDATABASE="$db" psql -X -q -t -A -c 'SELECT 1' >/dev/null 2>&1; then
    RDS_METADATA_SECRET="$password" master_sql -v name="$user" <<'SQL'
\getenv pw RDS_METADATA_SECRET
DO $$ BEGIN PERFORM set_config('log_statement', 'none', false); EXCEPTION WHEN insufficient_privilege THEN NULL; END $$;
ALTER ROLE :"name" PASSWORD :'pw';
SQL
    PGUSER="$user" PGPASSWORD="$password" PGDATABASE="$db" psql -X -q -t -A -c 'SELECT 1' >/dev/null 2>&1 \
      || die "role $user cannot log in to database $db even after its password was set (check pg_hba and the network)"
    say "role $user updated (password)"
    app_changed=true
  fi

  if [ "$app_changed" = true ]; then
    changed=true
  else
    say "role $user unchanged, database $db unchanged"
  fi
done

say "changed=$changed"
