"""N dashboards watching one gateway, in a process of their own (so their reading costs the bench's
client nothing): `python -m edgecloud.bench.dashboard_watchers URL N`. Prints `watching N` once every
feed has sent its first snapshot, then reads until killed."""

from __future__ import annotations

import asyncio
import sys

import httpx


async def watch(client: httpx.AsyncClient, url: str, ready: asyncio.Queue[None]) -> None:
    async with client.stream("GET", f"{url}/dashboard/events") as stream:
        stream.raise_for_status()
        told = False
        async for line in stream.aiter_lines():
            if line.startswith("data: ") and not told:
                told = True
                await ready.put(None)


async def main(url: str, count: int) -> None:
    ready: asyncio.Queue[None] = asyncio.Queue()
    limits = httpx.Limits(max_connections=count + 1)
    async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=None), limits=limits) as client:
        tasks = [asyncio.create_task(watch(client, url, ready)) for _ in range(count)]
        for _ in range(count):
            await ready.get()
        print(f"watching {count}", flush=True)
        await asyncio.gather(*tasks)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
