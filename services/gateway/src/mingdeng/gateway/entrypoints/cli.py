from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta

import uvicorn

from mingdeng.contracts.agency import DEFAULT_AGENCY, agency_id_problem, agency_of_source
from mingdeng.gateway.adapters.agency_schemas import migrate_agency_schemas
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


async def committee_admin(settings: GatewaySettings, args: argparse.Namespace) -> None:
    """A 机关工委 admin signs in with its phone number (its code is sent to the number as a
    member of some agency) and sees every agency of its committee's tree as their admin."""
    connection = await postgres_connection(settings.postgres.dsn)
    try:
        if args.action == "add":
            await connection.execute(
                """INSERT INTO gateway.committee_admins (committee_id, phone, name)
                   VALUES ($1, $2, $3) ON CONFLICT (committee_id, phone)
                   DO UPDATE SET name = EXCLUDED.name""",
                args.committee,
                args.phone,
                args.name,
            )
        elif args.action == "remove":
            await connection.execute(
                "DELETE FROM gateway.committee_admins WHERE committee_id = $1 AND phone = $2",
                args.committee,
                args.phone,
            )
        for row in await connection.fetch(
            """SELECT phone, name, granted_at FROM gateway.committee_admins
               WHERE committee_id = $1 ORDER BY phone""",
            args.committee,
        ):
            print(f"{args.committee}\t{row['phone']}\t{row['name']}\t{row['granted_at']:%Y-%m-%d}")
    finally:
        await connection.close()


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
        help="the agency whose data the token reads; publishers: the one agency they publish "
        "for (by default the source's: /agencies/{agency}/… or else the default agency)",
    )
    token.add_argument(
        "--committee",
        help="admin only: a 机关工委 admin's token, that reads /v1/committees/{committee}/agencies"
        " (the agency it reads otherwise: --agency, by default the committee's own office)",
    )
    admins = commands.add_parser(
        "committee-admin", help="grant or withdraw a 机关工委 admin (docs/operations.md)"
    )
    admins.add_argument("action", choices=("add", "remove", "list"))
    admins.add_argument("--committee", required=True, help="the 机关工委's id (gateway.agencies)")
    admins.add_argument("--phone", help="the admin's phone number (add, remove)")
    admins.add_argument("--name", default="机关工委管理员", help="add: the name the pages show")
    token.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    configure_logging("gateway")
    settings = GatewaySettings()
    if args.command == "prestart":
        asyncio.run(prestart(settings.postgres.dsn, "gateway", MIGRATIONS))
        asyncio.run(migrate_agency_schemas(settings.postgres.dsn))
    elif args.command == "committee-admin":
        asyncio.run(committee_admin(settings, args))
    elif args.command == "token":
        if args.role == "publisher" and not args.source:
            parser.error("a publisher token needs --source")
        if args.committee and args.role != "admin":
            parser.error("--committee: a 机关工委 admin's token has the admin role")
        agency = args.agency or (args.source and agency_of_source(args.source)) or args.committee
        if agency and (problem := agency_id_problem(agency)):
            parser.error(f"--agency: {problem}")
        principal = Principal(
            subject=args.subject,
            role=args.role,
            source=args.source,
            agency=agency or DEFAULT_AGENCY,
            committee=args.committee,
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
