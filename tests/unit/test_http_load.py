"""The benchmarks' raw HTTP client: statuses read, bodies consumed by length or in chunks, one
keep-alive connection for many requests, and the request it writes."""

from __future__ import annotations

import asyncio

import orjson

from bench.http_load import Connection, Request

ANSWERS = [
    b"HTTP/1.1 201 Created\r\ncontent-length: 5\r\ncontent-type: application/json\r\n\r\n[1,2]",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\n\r\n{}",
]


def test_three_requests_on_one_connection() -> None:
    async def scenario() -> tuple[list[int], list[bytes], int]:
        received: list[bytes] = []
        connections = 0

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal connections
            connections += 1
            for answer in ANSWERS:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0)
                received.append(head + await reader.readexactly(length))
                writer.write(answer)
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        connection = Connection("127.0.0.1", port)
        statuses = [
            await connection.send(Request("create", "POST", "/offerings", "k-1", {"title": "rice"})),
            await connection.send(Request("list", "GET", "/offerings?limit=20", "k-1")),
            await connection.send(Request("health", "GET", "/health")),
        ]
        connection.close()
        server.close()
        await server.wait_closed()
        return statuses, received, connections

    statuses, received, connections = asyncio.run(scenario())
    assert statuses == [201, 200, 401] and connections == 1
    first = received[0].split(b"\r\n\r\n")
    assert first[0].startswith(b"POST /offerings HTTP/1.1\r\n") and b"X-API-Key: k-1" in first[0]
    assert orjson.loads(first[1]) == {"title": "rice"}
    assert b"X-API-Key" not in received[2]
