from __future__ import annotations

from typing import Any

import faust

from mingdeng.scoring.settings import ScoringSettings


def create_app(settings: ScoringSettings) -> Any:
    app = faust.App(
        "mingdeng-scoring",
        broker=f"kafka://{settings.kafka.bootstrap_servers}",
        store=settings.store,
        datadir=str(settings.data_dir),
        web_host=settings.web_host,
        web_port=settings.web_port,
        autodiscover=False,
    )

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok"})

    return app
