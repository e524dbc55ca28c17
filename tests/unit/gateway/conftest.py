from __future__ import annotations

import pytest

from mingdeng.gateway.web import pages


@pytest.fixture(autouse=True)
def asset_links() -> None:
    """Pages rendered without an app link their files by plain name (`web.install` gives the
    hashed names when an app is made)."""
    pages.templates.env.globals.setdefault("asset", lambda name: f"/assets/{name}")
