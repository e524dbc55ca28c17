#!/usr/bin/env bash
# Start a single-node KRaft broker+controller on 127.0.0.1:$KAFKA_PORT; wait until it answers.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
dir="$RUN_DIR/kafka"; pidfile="$dir/kafka.pid"
mkdir -p "$dir"
if pid_alive "$pidfile" && port_open "$KAFKA_PORT"; then say "Kafka already running on $KAFKA_PORT"; exit 0; fi
port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by another process"
libs=$("$DEPLOY_DIR/kafka/fetch.sh")
sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
    -e "s|@DATA_DIR@|$dir/data|g" "$DEPLOY_DIR/kafka/server.properties.in" > "$dir/server.properties"
java_opts=(-Xms256m -Xmx768m -Dlog4j.configuration="file:$DEPLOY_DIR/kafka/log4j.properties")
if [ ! -f "$dir/data/meta.properties" ]; then
  cluster_id=$(java -cp "$libs/*" "${java_opts[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
  java -cp "$libs/*" "${java_opts[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
    -c "$dir/server.properties" >> "$RUN_DIR/logs/kafka.log" 2>&1 || die "formatting KRaft storage failed (see $RUN_DIR/logs/kafka.log)"
fi
say "starting Kafka on 127.0.0.1:$KAFKA_PORT"
[ -f "$RUN_DIR/logs/kafka.log" ] && mv "$RUN_DIR/logs/kafka.log" "$RUN_DIR/logs/kafka.log.1"
nohup java -cp "$libs/*" "${java_opts[@]}" kafka.Kafka "$dir/server.properties" \
  >> "$RUN_DIR/logs/kafka.log" 2>&1 &
write_pidfile "$pidfile" $!
alive() { pid_alive "$pidfile"; }
ready() { alive && port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$RUN_DIR/logs/kafka.log"; }
wait_started 90 alive ready || case $? in
  2) tail -n 15 "$RUN_DIR/logs/kafka.log" >&2; die "Kafka exited during its start (the log's end is above; all of it in $RUN_DIR/logs/kafka.log)";;
  *) die "Kafka did not start in 90 s (see $RUN_DIR/logs/kafka.log)";;
esac
say "Kafka is up"
