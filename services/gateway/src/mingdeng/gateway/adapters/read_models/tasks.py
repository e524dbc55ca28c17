"""The notifier's tasks (talk obligations after violations, commendation deliveries), each as
it stands now."""

from __future__ import annotations

from mingdeng.contracts.derived import Task
from mingdeng.gateway.adapters.read_models.base import upserted

READ_MODEL = upserted(
    "tasks",
    Task,
    """INSERT INTO tasks VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (task_id) DO UPDATE SET assignee_id = EXCLUDED.assignee_id,
           status = EXCLUDED.status, due = EXCLUDED.due, body = EXCLUDED.body""",
    lambda task: (
        task.task_id,
        task.kind,
        task.assignee_id,
        task.member_id,
        task.status,
        task.due,
        task.model_dump_json(),
    ),
)
