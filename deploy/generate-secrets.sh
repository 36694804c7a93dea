#!/bin/sh
# Write .env (passwords for docker compose) and deploy/person-key.env with fresh random values.
# Existing files are kept: delete one to regenerate it (after a first start, the passwords are
# already in Kafka and PostgreSQL, so change them there too).
set -eu
cd "$(dirname "$0")/.."
umask 077

random() { od -An -N"${1:-24}" -tx1 /dev/urandom | tr -d ' \n'; }

if [ -e .env ]; then
    echo ".env exists, kept"
else
    while IFS= read -r line; do
        case "$line" in
            *=change-me*) echo "${line%%=*}=$(random)" ;;
            *) echo "$line" ;;
        esac
    done < deploy/hub.env.example > .env
    echo ".env written"
fi

if [ -e deploy/person-key.env ]; then
    echo "deploy/person-key.env exists, kept"
else
    echo "HUB_PERSON_KEY_SECRET=$(random 48)" > deploy/person-key.env
    echo "deploy/person-key.env written"
fi

web_key=$(sed -n 's/^HUB_WEB_SERVICE_KEY=//p' .env)
if [ -n "$web_key" ]; then
    digest=$(printf %s "$web_key" | sha256sum | cut -d' ' -f1)
    echo "the staff web front's key: put in deploy/api-keys.toml"
    printf '  [[key]]\n  id = "web-front"\n  role = "staff"\n  sha256 = "%s"\n' "$digest"
fi

if [ ! -e deploy/api-keys.toml ]; then
    echo "next: create deploy/api-keys.toml from deploy/api-keys.toml.example with your own key digests"
fi
