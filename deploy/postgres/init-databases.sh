#!/bin/sh
# Runs once, when the PostgreSQL data volume is first initialised (/docker-entrypoint-initdb.d):
# one role and one database per service, each database owned by its service's role and closed to
# everyone else. A service's migrations create its tables at start.
set -eu

for service in intake matching charity ledger web; do
    variable="HUB_DB_PASSWORD_$(echo "$service" | tr '[:lower:]' '[:upper:]')"
    eval "password=\${$variable:-}"
    if [ -z "$password" ]; then
        echo "init-databases: $variable is not set" >&2
        exit 2
    fi
    psql --set ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
        --set name="$service" --set password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
    echo "init-databases: database $service owned by role $service"
done
