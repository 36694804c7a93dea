"""kit.http: the key before the body, the body's size before parsing, one 422 shape, the error
answers in the OpenAPI document (issue 17, items 10 and 11)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from fastapi.testclient import TestClient
from pydantic import BaseModel

from kit.auth import ApiKeys, Principal, digest, require
from kit.http import MAX_BODY, protect, unprocessable
from kit.settings import HubSettings

read_bodies: list[int] = []
Staff = Annotated[Principal, Depends(require("staff"))]


class Thing(BaseModel):
    name: str


class BytesRead:
    """Outermost: counts the body bytes anything inside it read."""

    total = 0

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        async def counted():  # type: ignore[no-untyped-def]
            message = await receive()
            BytesRead.total += len(message.get("body", b""))
            return message

        await self.inner(scope, counted, send)


def app() -> FastAPI:
    api = FastAPI()
    api.state.api_keys = ApiKeys({digest("staff-key"): Principal("s", "staff"), digest("dept-key"): Principal("d", "department", "CA")})
    @api.post("/things")
    async def add(thing: Thing, caller: Staff) -> dict[str, str]:
        read_bodies.append(len(thing.name))
        return {"name": thing.name}

    @api.post("/big", openapi_extra={MAX_BODY: 4096})
    async def big(thing: Thing, caller: Staff) -> dict[str, int]:
        return {"length": len(thing.name)}

    @api.get("/things/{thing_id}")
    async def show(thing_id: str, caller: Staff) -> dict[str, str]:
        if thing_id == "bad":
            raise HTTPException(422, "a text, raised by hand")
        raise unprocessable(["path", "thing_id"], "no such thing here")

    protect(api, HubSettings(max_body_bytes=1024))
    api.add_middleware(BytesRead)
    return api


def chunks(total: int) -> Iterator[bytes]:
    yield b'{"name": "'
    for _ in range(total // 100):
        yield b"x" * 100
    yield b'"}'


def test_no_key_is_refused_before_the_body_is_read() -> None:
    read_bodies.clear()
    BytesRead.total = 0
    with TestClient(app()) as client:
        answer = client.post("/things", content=b'{"name": "' + b"x" * 5000 + b'"}', headers={"Content-Type": "application/json"})
        assert answer.status_code == 401
        wrong = client.post("/things", json={"name": "a"}, headers={"X-API-Key": "dept-key"})
        assert wrong.status_code == 403
    assert read_bodies == [] and BytesRead.total == 0, "the body was read before the key was checked"


def test_a_body_over_the_limit_is_refused_from_its_length_or_while_it_is_read() -> None:
    with TestClient(app()) as client:
        key = {"X-API-Key": "staff-key", "Content-Type": "application/json"}
        assert client.post("/things", content=b'{"name": "' + b"x" * 2000 + b'"}', headers=key).status_code == 413
        streamed = client.post("/things", content=chunks(5000), headers=key)  # chunked: no Content-Length
        assert streamed.status_code == 413
        assert client.post("/things", json={"name": "small"}, headers=key).status_code == 200
        assert client.post("/big", content=b'{"name": "' + b"x" * 2000 + b'"}', headers=key).status_code == 200


def test_every_422_has_fastapis_shape() -> None:
    with TestClient(app()) as client:
        key = {"X-API-Key": "staff-key"}
        for path in ("/things/bad", "/things/other"):
            answer = client.get(path, headers=key)
            assert answer.status_code == 422
            assert isinstance(answer.json()["detail"], list) and answer.json()["detail"][0]["msg"]
        own = client.post("/things", json={"name": 3}, headers=key)
        assert own.status_code == 422 and own.json()["detail"][0]["loc"] == ["body", "name"]


def test_the_error_answers_are_in_the_openapi_document() -> None:
    schema = app().openapi()
    post = schema["paths"]["/things"]["post"]
    assert {"401", "403", "413", "422"} <= set(post["responses"])
    assert post["x-hub-roles"] == ["staff"]
    assert {"401", "403", "404"} <= set(schema["paths"]["/things/{thing_id}"]["get"]["responses"])
