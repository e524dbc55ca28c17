from __future__ import annotations

import argparse
import asyncio

import uvicorn

from mingdeng.gateway.entrypoints.app import create_app
from mingdeng.gateway.settings import GatewaySettings
from mingdeng.runtime.logs import configure_logging
from mingdeng.runtime.migrations import prestart

MIGRATIONS = "mingdeng.gateway.adapters.sql"


def main() -> None:
    parser = argparse.ArgumentParser(prog="mingdeng-gateway")
    parser.add_argument("command", choices=["prestart", "serve"])
    args = parser.parse_args()
    configure_logging("gateway")
    settings = GatewaySettings()
    if args.command == "prestart":
        asyncio.run(prestart(settings.postgres.dsn, "gateway", MIGRATIONS))
    else:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
