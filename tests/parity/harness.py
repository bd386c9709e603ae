"""Drive the SDK and ours with the same call against one capturing server, every method."""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sent_dm

import sentdm_async

from .compare import Mapping, differences
from .fill import response_body
from .server import Captured, CapturingServer

if TYPE_CHECKING:
    from .methods import SdkMethod

__all__ = ["Outcome", "Rules", "run_all"]

_KEY = "sk_test_parity_0123456789"


@dataclass(frozen=True)
class Rules:
    """How a call on the SDK maps to ours: the deliberate differences, as data."""

    mapping: Mapping
    pages: dict[str, str]
    """SDK paged method -> our method giving one page with the same arguments."""
    required: frozenset[tuple[str, str]]
    """``(SDK model, field)`` ours keeps required: filled even in the all-null answer."""
    positional: frozenset[str]
    """Parameters ours takes positionally where the SDK takes them by keyword."""


@dataclass
class Outcome:
    """What one method did: each list is empty when ours matched the SDK."""

    present: list[str] = field(default_factory=list)
    request: list[str] = field(default_factory=list)
    full: list[str] = field(default_factory=list)
    null: list[str] = field(default_factory=list)


def _ours(client: sentdm_async.AsyncSent, name: str, rules: Rules) -> Any:
    target: Any = client
    for part in rules.pages.get(name, name).split("."):
        target = getattr(target, part, None)
        if target is None:
            return None
    return target


def _our_call(method: SdkMethod, ours: Any, rules: Rules) -> tuple[list[Any], dict[str, Any]]:
    """Arguments for ours: the SDK's, with the keyword ones `rules` allows taken positionally.

    Raises:
        TypeError: Ours takes positionally a keyword of the SDK's that `rules` does not list.
    """
    values = dict(method.positional) | method.keywords
    params = inspect.signature(ours).parameters.values()
    only = [p.name for p in params if p.kind is p.POSITIONAL_ONLY]
    moved = {name for name in only if name in method.keywords} - rules.positional
    if moved:
        raise TypeError(f"ours takes {sorted(moved)} positionally, the SDK by keyword")
    args = [values[name] for name in only]
    args += [value for name, value in method.positional if name not in only]
    keywords = {name: value for name, value in method.keywords.items() if name not in only}
    return args, keywords


def _answer(method: SdkMethod, *, null: bool, rules: Rules) -> tuple[int, Any]:
    keep = rules.required
    if method.returns is type(None):
        return 204, None
    if method.page_items is not None:
        items = response_body(list[method.item_type], null=null, keep=keep)  # type: ignore[name-defined]
        pagination = response_body(sent_dm.types.PaginationMeta, null=null, keep=keep)
        data = {
            method.page_items: None if null else items,
            "pagination": None if null else pagination,
        }
        meta = response_body(sent_dm.types.APIMeta, null=False, keep=keep)
        return 200, {"success": True, "data": data, "error": None, "meta": meta}
    body = response_body(method.returns, null=False, keep=keep)
    body["error"] = None  # a success: the API sends no error object beside data
    method.returns.model_rebuild()
    data_type = method.returns.model_fields["data"].annotation
    body["data"] = response_body(data_type, null=null, keep=keep)
    return (202 if method.name == "messages.send" else 200), body


async def _call_sdk(sdk: sent_dm.AsyncSent, method: SdkMethod) -> Any:
    target: Any = sdk
    for part in method.name.split("."):
        target = getattr(target, part)
    with warnings.catch_warnings():  # the SDK marks some methods deprecated (contacts.delete)
        warnings.simplefilter("ignore", DeprecationWarning)
        call = target(*(value for _, value in method.positional), **method.keywords)
    result = await call
    return getattr(result, "data", None)


async def _call_ours(ours: Any, method: SdkMethod, rules: Rules) -> Any:
    args, keywords = _our_call(method, ours, rules)
    result = ours(*args, **keywords)
    if hasattr(result, "__aiter__"):  # a lazy list: the first request is the one compared
        iterator = aiter(result)
        first = await anext(iterator, None)
        await iterator.aclose()
        return [] if first is None else [first]
    return await result


def _request(server: CapturingServer) -> Captured | None:
    return server.requests[0] if server.requests else None


@dataclass(frozen=True)
class _Exchange:
    """One call on each client against the same answer."""

    expected: Any
    wanted: Captured | None
    got: Any
    sent: Captured | None
    error: str | None


async def _exchange(
    server: CapturingServer, sdk: sent_dm.AsyncSent, ours: Any, method: SdkMethod, rules: Rules
) -> _Exchange:
    expected = await _call_sdk(sdk, method)
    wanted = _request(server)
    server.requests.clear()
    got, error = None, None
    try:
        got = await _call_ours(ours, method, rules)
    except Exception as exc:  # every failure is a finding to report
        error = f"ours raised {type(exc).__name__}: {exc}"
    return _Exchange(expected, wanted, got, _request(server), error)


def _describe(captured: Captured | None, error: str | None) -> str:
    return captured.describe() if captured else str(error or "no request")


async def _one(
    server: CapturingServer,
    sdk: sent_dm.AsyncSent,
    client: sentdm_async.AsyncSent,
    method: SdkMethod,
    rules: Rules,
) -> Outcome:
    outcome = Outcome()
    ours = _ours(client, method.name, rules)
    if ours is None:
        outcome.present.append(f"no {rules.pages.get(method.name, method.name)} in sentdm_async")
        outcome.request = outcome.full = outcome.null = ["method missing"]
        return outcome
    for null in (False, True):
        server.answer(*_answer(method, null=null, rules=rules))
        seen = await _exchange(server, sdk, ours, method, rules)
        if not null and seen.sent != seen.wanted:
            wanted, sent = _describe(seen.wanted, None), _describe(seen.sent, seen.error)
            outcome.request.append(f"SDK:  {wanted}\nours: {sent}")
        found = [seen.error] if seen.error else differences(seen.expected, seen.got, rules.mapping)
        (outcome.null if null else outcome.full).extend(found)
    return outcome


async def run_all(methods: list[SdkMethod], rules: Rules) -> dict[str, Outcome]:
    """Run every method against one server and return the outcome per SDK method name."""
    server = CapturingServer()
    url = await server.start()
    sdk = sent_dm.AsyncSent(api_key=_KEY, base_url=url, max_retries=0)
    client = sentdm_async.AsyncSent(api_key=_KEY, base_url=url, max_retries=0, rate_limit=None)
    try:
        return {method.name: await _one(server, sdk, client, method, rules) for method in methods}
    finally:
        await client.aclose()
        await sdk.close()
        await server.close()
