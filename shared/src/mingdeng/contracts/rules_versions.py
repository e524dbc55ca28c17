"""The scoring rules versions the platform ships: the ones an agency may adopt (issue 25).

An agency's `mingdeng.agency.registered.v1` may name one as `rules_version`; without it the
agency is scored under the 机关工委's rules (the installation's rules file). Any other value is
refused by the contracts, so the gateway (HTTP 422) and every reader on Kafka (dead letter)
refuse it alike, with the reason on `data.rules_version`. This list is the one definition:
scoring ships exactly one rules file per version (`rules/rules-{version}.toml`) and will not
start when the two disagree. A version once shipped stays: a registration that names it must
stay valid when the log is replayed.
"""

from __future__ import annotations

from typing import Literal, get_args

RulesVersion = Literal["2026.1", "2027.1"]
RULES_VERSIONS: tuple[str, ...] = get_args(RulesVersion)
