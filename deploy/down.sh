#!/usr/bin/env bash
# make down: stop the services, Kafka and PostgreSQL of this run folder, and say so. Data stays.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ -f "$RUN_DIR/mingdeng.env" ] && "$DEPLOY_DIR/services.sh" stop
"$DEPLOY_DIR/kafka/stop.sh"
"$DEPLOY_DIR/postgres/stop.sh"
say "everything of $RUN_DIR is stopped (data kept; make clean deletes it)"
