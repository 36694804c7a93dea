"""The services the pages read from, over their HTTP APIs with the web front's own staff key. The
person acting is named in X-Acting-User: the ledger writes it into its audit trail, intake and the
charity service into the decision's `decided_by` / `resolved_by`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from kit.auth import API_KEY_HEADER
from kit.logs import get_logger

ACTING_USER_HEADER = "X-Acting-User"
log = get_logger(__name__)


class UpstreamDown(Exception):
    """A service did not answer (refused, timed out, or answered 5xx)."""

    def __init__(self, service: str) -> None:
        super().__init__(service)
        self.service = service


class UpstreamRefused(Exception):
    """A service answered with a 4xx: the status and its detail, shown to the person."""

    def __init__(self, service: str, status: int, detail: Any) -> None:
        super().__init__(f"{service} answered {status}")
        self.service, self.status, self.detail = service, status, detail


@dataclass
class Upstream:
    name: str
    client: httpx.AsyncClient

    @classmethod
    def connect(cls, name: str, base_url: str, key: str, timeout: float, transport: httpx.AsyncBaseTransport | None = None) -> Upstream:
        client = httpx.AsyncClient(base_url=base_url, headers={API_KEY_HEADER: key}, timeout=timeout, transport=transport)
        return cls(name, client)

    async def get(self, path: str, acting: str, params: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        return await self._send("GET", path, acting, params=clean, **({"timeout": timeout} if timeout else {}))

    async def post(self, path: str, acting: str, body: dict[str, Any]) -> Any:
        return await self._send("POST", path, acting, json=body)

    async def _send(self, method: str, path: str, acting: str, **kwargs: Any) -> Any:
        try:
            headers = {ACTING_USER_HEADER: acting} if acting else {}
            response = await self.client.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as error:
            log.warning("upstream unreachable", service=self.name, error=type(error).__name__)
            raise UpstreamDown(self.name) from None
        if response.status_code >= 500:
            log.warning("upstream failed", service=self.name, status=response.status_code)
            raise UpstreamDown(self.name)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = None
            raise UpstreamRefused(self.name, response.status_code, detail)
        return response.json()

    async def close(self) -> None:
        await self.client.aclose()


@dataclass
class Upstreams:
    ledger: Upstream
    intake: Upstream
    charity: Upstream
    matching: Upstream

    async def close(self) -> None:
        for upstream in (self.ledger, self.intake, self.charity, self.matching):
            await upstream.close()
