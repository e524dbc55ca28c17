#!/usr/bin/env bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
stop_pidfile "$RUN_DIR/kafka/kafka.pid" Kafka
