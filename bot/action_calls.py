"""Calling the action server from Rasa: the domain encoded once, connections kept open.

Rasa 3.6 sends the whole domain with every action call (``RemoteAction._action_call_format``,
unless selective domain is configured), and encodes it to JSON again each time: about 84 KB
for this domain, a millisecond or more of the Rasa process's CPU per action call, and up to
two calls per turn. It also opens a new HTTP session, so a new TCP connection, for every call
(``EndpointConfig.request`` enters ``EndpointConfig.session()`` each time).

This module installs two changes, with the same request on the wire as far as the action
server can tell:

- the action call's body is a :class:`ActionCall` (a ``dict`` with the same keys, so anything
  that reads it sees what Rasa built), which ``EndpointConfig.request`` sends as bytes made
  of the call without its domain, encoded per call, and the domain's JSON, encoded once per
  domain (Rasa's ``Domain.as_dict`` returns the same dict for the life of the model);
- ``EndpointConfig.session()`` hands out one kept session per endpoint and event loop instead
  of a new one, and leaves it open when the ``async with`` ends. Its connections close after
  two idle seconds, before Sanic's five-second keep-alive ends on the server side, so a
  request is not sent on a connection the server is closing.

Imported by ``bot/__init__.py``, which installs it.
"""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any

import aiohttp
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

# Idle connections close before the action server's Sanic drops them (KEEP_ALIVE_TIMEOUT 5 s).
KEEPALIVE_SECONDS = 2.0
_SESSIONS = "_civicdesk_sessions"


class _DomainJSON:
    """The JSON of the latest domain dict seen, kept while it is the same object."""

    def __init__(self) -> None:
        self._domain: Any = None
        self._encoded = b""

    def encoded(self, domain: Any) -> bytes:
        if domain is not self._domain:
            self._encoded = json.dumps(domain).encode()
            self._domain = domain
        return self._encoded


_DOMAIN_JSON = _DomainJSON()


class ActionCall(dict):  # type: ignore[type-arg]
    """An action call's JSON body, encoded with the domain's JSON kept from earlier calls."""

    def encoded(self) -> bytes:
        if "domain" not in self:
            return json.dumps(self).encode()
        rest = {key: value for key, value in self.items() if key != "domain"}
        head = json.dumps(rest).encode()
        domain = _DOMAIN_JSON.encoded(self["domain"])
        if head == b"{}":
            return b'{"domain": ' + domain + b"}"
        return head[:-1] + b', "domain": ' + domain + b"}"


_RASA_CALL_FORMAT = RemoteAction._action_call_format
_RASA_REQUEST = EndpointConfig.request
_RASA_SESSION = EndpointConfig.session


def _action_call_format(self: RemoteAction, tracker: Any, domain: Any) -> ActionCall:
    return ActionCall(_RASA_CALL_FORMAT(self, tracker, domain))


async def _request(self: EndpointConfig, *args: Any, **kwargs: Any) -> Any:
    body = kwargs.get("json")
    if isinstance(body, ActionCall):
        del kwargs["json"]
        kwargs["data"] = body.encoded()
    return await _RASA_REQUEST(self, *args, **kwargs)


class _Borrowed:
    """``async with`` over a kept session: yields it and leaves it open."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None


def _new_session(endpoint: EndpointConfig) -> aiohttp.ClientSession:
    """A session configured as Rasa's ``EndpointConfig.session`` configures one."""
    auth = None
    if endpoint.basic_auth:
        auth = aiohttp.BasicAuth(endpoint.basic_auth["username"], endpoint.basic_auth["password"])
    return aiohttp.ClientSession(
        headers=endpoint.headers,
        auth=auth,
        timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
        connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS),
    )


def _session(self: EndpointConfig) -> Any:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not in a coroutine: Rasa's own, closed by its ``async with``
        return _RASA_SESSION(self)
    sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = self.__dict__.setdefault(
        _SESSIONS, {}
    )
    session = sessions.get(loop)
    if session is None or session.closed:
        for other in [other for other in sessions if other.is_closed()]:
            del sessions[other]
        session = sessions[loop] = _new_session(self)
    return _Borrowed(session)


async def close_sessions(endpoint: EndpointConfig) -> None:
    """Closes the sessions kept for ``endpoint`` (tests, shutdown)."""
    sessions = endpoint.__dict__.pop(_SESSIONS, {})
    for session in sessions.values():
        await session.close()


def install() -> None:
    """Encode the domain once and keep action server connections open (idempotent)."""
    RemoteAction._action_call_format = _action_call_format  # type: ignore[method-assign]
    EndpointConfig.request = _request  # type: ignore[method-assign]
    EndpointConfig.session = _session  # type: ignore[method-assign]


def uninstall() -> None:
    """Rasa's own action calls again (tests and benchmarks)."""
    RemoteAction._action_call_format = _RASA_CALL_FORMAT  # type: ignore[method-assign]
    EndpointConfig.request = _RASA_REQUEST  # type: ignore[method-assign]
    EndpointConfig.session = _RASA_SESSION  # type: ignore[method-assign]
