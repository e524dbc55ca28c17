"""The views outreach computes (coverage, overdue visits, liaison, talks, …) and the lines of its
long lists, the newest of each key by `computed_at`."""

from __future__ import annotations

from mingdeng.contracts.outreach_views import OutreachView
from mingdeng.gateway.adapters.read_models.base import upserted

READ_MODEL = upserted(
    "outreach_views",
    OutreachView,
    """INSERT INTO outreach_views (key, view, member_id, period, body, computed_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (key) DO UPDATE SET view = EXCLUDED.view, member_id = EXCLUDED.member_id,
           period = EXCLUDED.period, body = EXCLUDED.body, computed_at = EXCLUDED.computed_at
       WHERE outreach_views.computed_at <= EXCLUDED.computed_at""",
    lambda view: (
        view.key,
        view.view,
        view.member_id,
        view.period,
        view.body_json(),
        view.computed_at,
    ),
)
