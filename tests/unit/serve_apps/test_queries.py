"""Parsing the account-history cursor: what next_page gives back parses, anything else is a 400."""

from __future__ import annotations

import pytest

from serve_apps.errors import ApiFailure
from serve_apps.queries import parse_page


def test_next_page_round_trips():
    assert parse_page("12:3") == (12, 3) and parse_page(None) is None and parse_page("") is None
    assert parse_page(f"{2**63 - 1}:{2**31 - 1}") == (2**63 - 1, 2**31 - 1)


@pytest.mark.parametrize("text", ["x", "1", "1:2:3", "-1:0", "0:-1", f"{2**63}:0", f"0:{2**31}", "1.5:2"])
def test_anything_else_is_a_bad_request(text):
    with pytest.raises(ApiFailure) as caught:
        parse_page(text)
    assert caught.value.code == "BAD_REQUEST"
