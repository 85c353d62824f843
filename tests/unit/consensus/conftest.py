"""Soak runs (`@pytest.mark.slow`) stay out of the default run; select them with `-m slow`."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="soak run: select with -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
