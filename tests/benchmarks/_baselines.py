"""The polling loops users write without fastwait: plain aiohttp, nothing clever.

These deliberately repeat each API's URL, auth header and terminal status names instead of
using :mod:`fastwait.providers`: they stand for code written by someone who never saw fastwait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import attrs
import backoff

__all__ = [
    "COMPRESS",
    "COMPRESSORAPP",
    "CONVERT",
    "StatusApi",
    "backoff_user",
    "fixed_interval_user",
]


@attrs.frozen
class StatusApi:
    """How a hand-written loop asks one API for a job's status and reads the answer."""

    path: Callable[[str], str]
    headers: Callable[[str], dict[str, str]]
    terminal: frozenset[str]

    def url(self, base: str, job_id: str) -> str:
        return base + self.path(job_id)

    def is_terminal(self, payload: Any) -> bool:
        return isinstance(payload, dict) and payload.get("status") in self.terminal


COMPRESS = StatusApi(
    path=lambda job_id: f"/compress/job/{job_id}",
    headers=lambda key: {"X-Fast-Api-Key": key},
    terminal=frozenset({"Succeeded", "Failed", "Canceled"}),
)
CONVERT = StatusApi(
    path=lambda job_id: f"/convert/job/{job_id}",
    headers=lambda key: {"X-Fast-Api-Key": key},
    terminal=frozenset({"Succeeded", "Failed", "Canceled"}),
)
COMPRESSORAPP = StatusApi(
    path=lambda job_id: f"/1.0/jobs/{job_id}",
    headers=lambda key: {"Authorization": aiohttp.BasicAuth(key).encode()},
    terminal=frozenset({"completed", "failed"}),
)


async def _get_status(
    session: aiohttp.ClientSession, api: StatusApi, base: str, key: str, job_id: str
) -> Any:
    async with session.get(api.url(base, job_id), headers=api.headers(key)) as response:
        response.raise_for_status()
        return await response.json()


async def _run_all(
    ids: Sequence[str], wait_one: Callable[[aiohttp.ClientSession, str], Any]
) -> int:
    """Wait for every job with a default ``ClientSession``; the number that ended in error."""
    async with aiohttp.ClientSession() as session:
        outcomes = await asyncio.gather(
            *(wait_one(session, job_id) for job_id in ids), return_exceptions=True
        )
    return sum(isinstance(outcome, BaseException) for outcome in outcomes)


async def fixed_interval_user(
    ids: Sequence[str], api: StatusApi, base: str, key: str, interval: float = 1.0
) -> int:
    """GET the status; if terminal stop, else ``asyncio.sleep(interval)``: polls at t≈0, 1, 2…"""

    async def wait_one(session: aiohttp.ClientSession, job_id: str) -> Any:
        while True:
            payload = await _get_status(session, api, base, key, job_id)
            if api.is_terminal(payload):
                return payload
            await asyncio.sleep(interval)

    return await _run_all(ids, wait_one)


async def backoff_user(ids: Sequence[str], api: StatusApi, base: str, key: str) -> int:
    """``@backoff.on_predicate(backoff.expo, max_value=30)`` with its default full jitter."""

    @backoff.on_predicate(backoff.expo, max_value=30)
    async def wait_one(session: aiohttp.ClientSession, job_id: str) -> Any:
        payload = await _get_status(session, api, base, key, job_id)
        return payload if api.is_terminal(payload) else None

    return await _run_all(ids, wait_one)
