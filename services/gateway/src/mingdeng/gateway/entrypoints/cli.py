from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta

import uvicorn

from mingdeng.contracts.agency import DEFAULT_AGENCY, agency_id_problem, agency_of_source
from mingdeng.gateway.adapters.projector import PROJECTOR_GROUP, forget_projections
from mingdeng.gateway.adapters.tokens import issue_token
from mingdeng.gateway.domain.access import ROLES, Principal
from mingdeng.gateway.entrypoints.app import create_app
from mingdeng.gateway.entrypoints.deadlines import connection_budget, with_deadlines
from mingdeng.gateway.settings import GatewaySettings
from mingdeng.runtime.clients import postgres_connection
from mingdeng.runtime.logs import configure_logging
from mingdeng.runtime.migrations import prestart

MIGRATIONS = "mingdeng.gateway.adapters.sql"
GRACEFUL_SHUTDOWN_S = 2


async def rebuild(settings: GatewaySettings) -> None:
    connection = await postgres_connection(settings.postgres.dsn)
    try:
        await forget_projections(connection, settings.kafka.group(PROJECTOR_GROUP))
    finally:
        await connection.close()
    print("read models emptied; the projector rebuilds them from offset 0 when the gateway starts")


def main() -> None:
    parser = argparse.ArgumentParser(prog="mingdeng-gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prestart", help="wait for the database and migrate")
    commands.add_parser("serve", help="serve the API (and run the projector)")
    commands.add_parser(
        "rebuild",
        help="empty the read models; the projector's next start rebuilds them from the log",
    )
    token = commands.add_parser("token", help="issue a bearer token")
    token.add_argument("--role", choices=ROLES, required=True)
    token.add_argument("--subject", required=True, help="member id, or client id for publishers")
    token.add_argument("--source", help="publishers: the one source they publish")
    token.add_argument(
        "--agency",
        help="publishers: the one agency they publish for (by default the source's: "
        "/agencies/{agency}/… or else the default agency; docs/events.md)",
    )
    token.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    configure_logging("gateway")
    settings = GatewaySettings()
    if args.command == "prestart":
        asyncio.run(prestart(settings.postgres.dsn, "gateway", MIGRATIONS))
    elif args.command == "token":
        if args.role == "publisher" and not args.source:
            parser.error("a publisher token needs --source")
        agency = args.agency or (args.source and agency_of_source(args.source))
        if agency and (problem := agency_id_problem(agency)):
            parser.error(f"--agency: {problem}")
        principal = Principal(
            subject=args.subject,
            role=args.role,
            source=args.source,
            agency=agency or DEFAULT_AGENCY,
        )
        try:
            token_text = issue_token(
                settings.jwt_secret.get_secret_value(), principal, timedelta(days=args.days)
            )
        except ValueError as refused:
            parser.error(str(refused))
        print(token_text)
    elif args.command == "rebuild":
        asyncio.run(rebuild(settings))
    else:
        # open live streams (/v1/stream) never end by themselves: on TERM they are given a
        # moment, then cut, so that the gateway stops within seconds
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level="info",
            http=with_deadlines(settings.header_timeout_s, settings.body_timeout_s),
            timeout_keep_alive=settings.keep_alive_s,
            limit_concurrency=settings.max_connections or connection_budget(),
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        )
