#!/bin/sh
# Start the single Kafka node: format its storage on first start (creating the SCRAM super user
# `admin`, which must exist before anyone can authenticate), then run Kafka in the foreground.
set -eu

: "${KAFKA_ADMIN_PASSWORD:?KAFKA_ADMIN_PASSWORD must be set (see deploy/hub.env.example)}"
case "$KAFKA_ADMIN_PASSWORD" in
    # it is written into SCRAM and JAAS syntax, where , ] = and quotes would break it
    *[!A-Za-z0-9_.~-]*) echo "start-kafka: KAFKA_ADMIN_PASSWORD may hold only letters, digits and _.~-" >&2; exit 2 ;;
esac
KAFKA_HOME=${KAFKA_HOME:-/opt/kafka}
TEMPLATE=${KAFKA_CONFIG_TEMPLATE:-/opt/hub/kafka/server.properties}
CONFIG=/tmp/server.properties
DATA_DIR=/var/lib/kafka/data

cp "$TEMPLATE" "$CONFIG"
echo "advertised.listeners=CLIENT://${KAFKA_CLIENT_ADVERTISED:-kafka:9092},EXTERNAL://${KAFKA_EXTERNAL_ADVERTISED:-localhost:29092},INTERNAL://127.0.0.1:19092" >> "$CONFIG"

if [ ! -f "$DATA_DIR/meta.properties" ]; then
    cluster_id=${KAFKA_CLUSTER_ID:-$("$KAFKA_HOME/bin/kafka-storage.sh" random-uuid)}
    echo "formatting $DATA_DIR for cluster $cluster_id"
    "$KAFKA_HOME/bin/kafka-storage.sh" format --config "$CONFIG" --cluster-id "$cluster_id" \
        --add-scram "SCRAM-SHA-512=[name=admin,password=$KAFKA_ADMIN_PASSWORD]"
fi

exec "$KAFKA_HOME/bin/kafka-server-start.sh" "$CONFIG"
