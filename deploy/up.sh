#!/usr/bin/env bash
# make up: install what is missing, start Kafka, PostgreSQL and the services, load the demo.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$DEPLOY_DIR/bootstrap.sh"
"$DEPLOY_DIR/postgres/start.sh"
"$DEPLOY_DIR/kafka/start.sh"
"$DEPLOY_DIR/env.sh" >/dev/null
set -a; source "$RUN_DIR/mingdeng.env"; set +a
"$ROOT_DIR/.venv/bin/mingdeng" topics
"$DEPLOY_DIR/services.sh" start gateway scoring outreach
if [ ! -f "$RUN_DIR/demo.loaded" ]; then
  "$ROOT_DIR/.venv/bin/mingdeng" demo && touch "$RUN_DIR/demo.loaded"
fi
# the notifier last: its first bulletin and maxim then read the demo's history
"$DEPLOY_DIR/services.sh" start notify
api="http://127.0.0.1:$MINGDENG_GATEWAY_PORT"
cat <<INFO

  Mingdeng is running.
    Dashboard     $api/login/dev?member_id=m001 (the office, logged in as an admin)
    Public pages  $api/board (公示栏) and $api/screen (数据大屏), no login
    The city      $api/committee/jggw/board and $api/committee/jggw/screen (机关工委, all agencies)
    API           $api
    API docs      $api/docs
    Admin token   make token ROLE=admin SUBJECT=m001
    Logs          $RUN_DIR/logs/
    Stop          make down

INFO
