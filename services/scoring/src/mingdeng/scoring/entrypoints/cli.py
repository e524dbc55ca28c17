from __future__ import annotations

import argparse

import faust

from mingdeng.runtime.logs import configure_logging
from mingdeng.scoring.entrypoints.worker import create_app
from mingdeng.scoring.settings import ScoringSettings


def main() -> None:
    parser = argparse.ArgumentParser(prog="mingdeng-scoring")
    parser.add_argument("command", choices=["run"])
    args = parser.parse_args()
    configure_logging("scoring")
    settings = ScoringSettings()
    if args.command == "run":
        faust.Worker(create_app(settings), loglevel="INFO").execute_from_commandline()
