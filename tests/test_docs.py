"""The README's documented defaults are the code's: each default is written once, in the code."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from sentdm_async import AsyncSent, PollPolicy
from sentdm_async._bulk.activities import DEFAULT_BULK_CONCURRENCY
from sentdm_async._client import Messages
from sentdm_async._http.options import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_AFTER,
    DEFAULT_TIMEOUT,
)
from sentdm_async._watch.watcher import DEFAULT_WATCH_CONCURRENCY

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def _config_table() -> dict[str, str]:
    """``argument -> default`` from the README's configuration table."""
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", README, flags=re.MULTILINE)
    return {name: default.strip() for name, default in rows}


@pytest.mark.parametrize(
    ("argument", "constant", "documented"),
    [
        ("timeout", DEFAULT_TIMEOUT, f"{DEFAULT_TIMEOUT:g} s"),
        ("max_retries", DEFAULT_MAX_RETRIES, str(DEFAULT_MAX_RETRIES)),
        ("max_retry_after", DEFAULT_MAX_RETRY_AFTER, f"{DEFAULT_MAX_RETRY_AFTER:g} s"),
        ("max_connections", DEFAULT_MAX_CONNECTIONS, str(DEFAULT_MAX_CONNECTIONS)),
        (
            "max_response_bytes",
            DEFAULT_MAX_RESPONSE_BYTES,
            f"{DEFAULT_MAX_RESPONSE_BYTES / (1024 * 1024):g} MiB",
        ),
        ("rate_limit", "auto", '`"auto"`'),
        ("trust_env", True, "`True`"),
    ],
)
def test_configuration_table_matches_the_constants(
    argument: str, constant: object, documented: str
) -> None:
    """Each row of the configuration table shows the default the client really uses."""
    assert _config_table()[argument] == documented
    assert inspect.signature(AsyncSent).parameters[argument].default == constant


def test_base_url_default_is_documented() -> None:
    """The default base URL in the table is the constant."""
    assert DEFAULT_BASE_URL in _config_table()["base_url"]


def test_poll_policy_and_concurrency_defaults_are_documented() -> None:
    """The PollPolicy line and the concurrency defaults the README quotes are the code's."""
    policy = PollPolicy()
    quoted = (
        f"PollPolicy(min_interval={policy.min_interval}, max_interval={policy.max_interval}, "
        f"multiplier={policy.multiplier}, jitter={policy.jitter},\nnot_found_grace="
        f"{policy.not_found_grace})"
    )
    assert quoted in README
    assert f"retrieve_activities_many(ids, concurrency={DEFAULT_BULK_CONCURRENCY})" in README
    assert f"At most `concurrency` (default {DEFAULT_WATCH_CONCURRENCY})" in README
    for name in ("watcher", "watch_many"):
        parameter = inspect.signature(getattr(Messages, name)).parameters["concurrency"]
        assert parameter.default == DEFAULT_WATCH_CONCURRENCY
    bulk = inspect.signature(Messages.retrieve_activities_many).parameters["concurrency"]
    assert bulk.default == DEFAULT_BULK_CONCURRENCY
