#!/bin/sh
# One-shot job (service `kafka-init` in docker-compose.yml): create the hub's topics, one SCRAM
# user per department and per service, and the ACLs that hold each to what it needs.
# Safe to run again: existing topics are kept, passwords are reset to the given values, ACLs are
# a set (adding one twice changes nothing). Run as the super user `admin`.
#
# The lists below mirror contracts/catalogue.py (DEPARTMENTS) and contracts/topics.py;
# tests/unit/contracts/test_contract_deploy.py fails when they drift apart.
set -eu

# contracts/catalogue.py DEPARTMENTS, lower case: user <code> may write dept.<code>.events.v1 only
DEPARTMENTS="ca hrss health edu housing dpf union"
# the services; each consumes in the consumer group named after it
SERVICES="intake matching charity ledger web"
# contracts/topics.py: name, partitions, cleanup.policy
HUB_TOPICS="
hub.canonical.v1 6 delete
hub.rejections.v1 6 delete
hub.identity-reviews.v1 6 delete
hub.data-quality.v1 6 delete
hub.offerings.v1 6 delete
hub.matches.v1 6 delete
hub.alerts.v1 6 delete
hub.household-state.v1 6 compact
hub.service-presence.v1 1 delete
"
DEPARTMENT_TOPIC_PARTITIONS=6

: "${KAFKA_ADMIN_PASSWORD:?KAFKA_ADMIN_PASSWORD must be set}"
case "$KAFKA_ADMIN_PASSWORD" in
    *[!A-Za-z0-9_.~-]*) echo "kafka-init: KAFKA_ADMIN_PASSWORD may hold only letters, digits and _.~-" >&2; exit 2 ;;
esac
BOOTSTRAP=${KAFKA_BOOTSTRAP:-kafka:9092}
REPLICATION=${KAFKA_REPLICATION_FACTOR:-1}
NS=${HUB_TOPIC_NAMESPACE:-}
BIN=${KAFKA_HOME:-/opt/kafka}/bin
ADMIN_CONFIG=$(mktemp)
trap 'rm -f "$ADMIN_CONFIG"' EXIT

umask 077
cat > "$ADMIN_CONFIG" <<PROPERTIES
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$KAFKA_ADMIN_PASSWORD";
PROPERTIES

topics() { "$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" "$@"; }
acl() { "$BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" --add "$@" > /dev/null; }
upper() { echo "$1" | tr '[:lower:]' '[:upper:]'; }

password_of() {
    # KAFKA_PASSWORD_<USER>, e.g. KAFKA_PASSWORD_CA, KAFKA_PASSWORD_LEDGER
    variable="KAFKA_PASSWORD_$(upper "$1")"
    eval "value=\${$variable:-}"
    if [ -z "$value" ]; then
        echo "kafka-init: $variable is not set (deploy/hub.env.example lists every password)" >&2
        exit 2
    fi
    case "$value" in
        *[!A-Za-z0-9_.~-]*) echo "kafka-init: $variable may hold only letters, digits and _.~-" >&2; exit 2 ;;
    esac
    echo "$value"
}

# every password is checked before anything is changed
for user in $DEPARTMENTS $SERVICES; do
    password_of "$user" > /dev/null
done

echo "kafka-init: waiting for $BOOTSTRAP"
attempt=0
until existing=$(topics --list 2> /dev/null); do
    attempt=$((attempt + 1))
    if [ "$attempt" -ge 30 ]; then
        echo "kafka-init: $BOOTSTRAP did not accept the admin login" >&2
        exit 1
    fi
    sleep 2
done

create_topic() {  # name partitions policy
    if echo "$existing" | grep -qFx "$1"; then
        echo "kafka-init: topic $1 exists"
    else
        topics --create --if-not-exists --topic "$1" --partitions "$2" --replication-factor "$REPLICATION" \
            --config "cleanup.policy=$3" > /dev/null
        echo "kafka-init: topic $1 created ($2 partitions, $3)"
    fi
}

echo "$HUB_TOPICS" | while read -r name partitions policy; do
    if [ -n "$name" ]; then
        create_topic "$NS$name" "$partitions" "$policy"
    fi
done
for department in $DEPARTMENTS; do
    create_topic "${NS}dept.$department.events.v1" "$DEPARTMENT_TOPIC_PARTITIONS" delete
done

for user in $DEPARTMENTS $SERVICES; do
    password=$(password_of "$user")
    "$BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" --alter \
        --entity-type users --entity-name "$user" \
        --add-config "SCRAM-SHA-512=[iterations=8192,password=$password]" > /dev/null
    echo "kafka-init: user $user"
done

# A department writes its own topic and nothing else.
for department in $DEPARTMENTS; do
    acl --allow-principal "User:$department" --operation Write --operation Describe \
        --topic "${NS}dept.$department.events.v1"
    echo "kafka-init: $department may write ${NS}dept.$department.events.v1"
done

# Every service reads and writes the hub's own topics and consumes in its own group(s).
for service in $SERVICES; do
    acl --allow-principal "User:$service" --operation Read --operation Write --operation Describe \
        --resource-pattern-type prefixed --topic "${NS}hub."
    acl --allow-principal "User:$service" --operation Read --operation Describe \
        --resource-pattern-type prefixed --group "$service"
    if [ -n "$NS" ]; then  # should a service put the namespace in front of its group id too
        acl --allow-principal "User:$service" --operation Read --operation Describe \
            --resource-pattern-type prefixed --group "${NS}$service"
    fi
    echo "kafka-init: $service may read and write ${NS}hub.*, consume as group $service*"
done

# Intake alone reads the department topics.
acl --allow-principal "User:intake" --operation Read --operation Describe \
    --resource-pattern-type prefixed --topic "${NS}dept."
echo "kafka-init: intake may read ${NS}dept.*"

echo "kafka-init: done"
