"""The link emulator measured on loopback: added RTT and the bandwidth cap within 20% of the setting,
resets, and offline/online by signal."""

from __future__ import annotations

import asyncio
import signal
import socket
import statistics
import subprocess
import sys
import time

import pytest

from edgecloud.bench.netem import LinkEmulator, LinkProfile, parse_duration, parse_rate, parse_share
from edgecloud.serving.launcher import free_port

PAYLOAD = 1_250_000  # bytes: 10 Mbit


async def _echo_server() -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            if line.startswith(b"BULK"):
                writer.write(b"x" * PAYLOAD)
            else:
                writer.write(line)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _pings(port: int, count: int = 15) -> list[float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        writer.write(b"ping\n")
        await writer.drain()
        if not await reader.readline():
            raise ConnectionResetError("the link closed the connection")
        samples.append(time.perf_counter() - started)
    writer.close()
    return samples


async def _bulk_seconds(port: int) -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.perf_counter()
    writer.write(b"BULK\n")
    await writer.drain()
    await reader.readexactly(PAYLOAD)
    elapsed = time.perf_counter() - started
    writer.close()
    return elapsed


def test_added_rtt_and_bandwidth_are_within_20_percent() -> None:
    async def scenario() -> tuple[float, float, float]:
        server, upstream = await _echo_server()
        direct = statistics.median(await _pings(upstream))
        port = free_port()
        link = LinkEmulator(("127.0.0.1", port), ("127.0.0.1", upstream), LinkProfile(rtt_s=0.080))
        await link.start()
        delayed = statistics.median(await _pings(port))
        await link.stop()
        capped_port = free_port()
        capped = LinkEmulator(
            ("127.0.0.1", capped_port), ("127.0.0.1", upstream), LinkProfile(bandwidth_bps=10e6)
        )
        await capped.start()
        seconds = await _bulk_seconds(capped_port)
        await capped.stop()
        server.close()
        return direct, delayed, seconds

    direct, delayed, seconds = asyncio.run(scenario())
    added = delayed - direct
    rate = PAYLOAD * 8 / seconds
    print(f"added RTT {added * 1000:.1f} ms (set 80 ms); bandwidth {rate / 1e6:.2f} Mbit/s (set 10)")
    assert 0.064 <= added <= 0.096
    assert 8e6 <= rate <= 12e6


def test_a_share_of_connections_is_reset() -> None:
    async def scenario() -> int:
        server, upstream = await _echo_server()
        port = free_port()
        link = LinkEmulator(("127.0.0.1", port), ("127.0.0.1", upstream), LinkProfile(loss=0.5), seed=3)
        await link.start()
        failures = 0
        for _ in range(40):
            try:
                await _pings(port, count=1)
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                failures += 1
        await link.stop()
        server.close()
        return failures

    failures = asyncio.run(scenario())
    assert 10 <= failures <= 30  # about half of 40


def test_sigusr1_takes_the_link_offline_and_sigusr2_brings_it_back() -> None:
    target = socket.socket()
    target.bind(("127.0.0.1", 0))
    target.listen()
    upstream = target.getsockname()[1]
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgecloud",
            "netem",
            "--listen",
            f"127.0.0.1:{port}",
            "--upstream",
            f"127.0.0.1:{upstream}",
            "--rtt",
            "10ms",
        ]
    )
    try:
        _wait_until(lambda: _connects(port), True)
        process.send_signal(signal.SIGUSR1)
        _wait_until(lambda: _connects(port), False)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2)
        process.send_signal(signal.SIGUSR2)
        _wait_until(lambda: _connects(port), True)
    finally:
        process.terminate()
        process.wait(10)
        target.close()


def _connects(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _wait_until(check: object, expected: bool, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while check() is not expected:  # type: ignore[operator]
        assert time.monotonic() < deadline, f"link never became {'online' if expected else 'offline'}"
        time.sleep(0.1)


def test_units_parse() -> None:
    assert parse_duration("80ms") == pytest.approx(0.08)
    assert parse_rate("10mbit") == 10e6
    assert parse_share("0.5%") == pytest.approx(0.005)
