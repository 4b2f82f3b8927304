"""`edgecloud netem`: link emulation without root or kernel queueing disciplines. An asyncio TCP proxy
delays each direction by half the RTT (plus jitter, order kept), paces bytes through a token bucket for
the bandwidth cap, resets a share of connections, and can be taken offline and back at run time
(SIGUSR1 / SIGUSR2): offline it stops listening and drops live connections, so clients see connection
errors, as with a dead link."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import signal
import socket
import struct
import time
from dataclasses import dataclass, replace

CHUNK = 16 * 1024


@dataclass(frozen=True)
class LinkProfile:
    rtt_s: float = 0.0
    jitter_s: float = 0.0
    bandwidth_bps: float | None = None  # bits per second per direction; None: unlimited
    loss: float = 0.0  # share of connections reset

    @property
    def one_way_s(self) -> float:
        return self.rtt_s / 2


PRESETS = {
    "lan": LinkProfile(0.001, 0.0002, 1e9, 0.0),
    "wifi": LinkProfile(0.010, 0.003, 100e6, 0.001),
    "4g": LinkProfile(0.060, 0.015, 20e6, 0.005),
    "satellite": LinkProfile(0.600, 0.050, 10e6, 0.01),
    "offline": LinkProfile(0.0, 0.0, None, 0.0),
}
_UNITS = {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6}
_RATES = {
    "bit": 1.0,
    "kbit": 1e3,
    "mbit": 1e6,
    "gbit": 1e9,
    "bps": 1.0,
    "kbps": 1e3,
    "mbps": 1e6,
    "gbps": 1e9,
}


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"\s*([\d.]+)\s*(ms|us|s)?\s*", text)
    if match is None:
        raise ValueError(f"not a duration: {text!r} (e.g. 80ms)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def parse_rate(text: str) -> float:
    match = re.fullmatch(r"\s*([\d.]+)\s*([a-zA-Z]+)\s*", text)
    if match is None or match.group(2).lower() not in _RATES:
        raise ValueError(f"not a bandwidth: {text!r} (e.g. 10mbit)")
    return float(match.group(1)) * _RATES[match.group(2).lower()]


def parse_share(text: str) -> float:
    value = float(text.strip().rstrip("%"))
    return value / 100 if text.strip().endswith("%") else value


class LinkEmulator:
    def __init__(
        self,
        listen: tuple[str, int],
        upstream: tuple[str, int],
        profile: LinkProfile,
        *,
        online: bool = True,
        seed: int | None = None,
    ) -> None:
        self.listen = listen
        self.upstream = upstream
        self.profile = profile
        self._random = random.Random(seed)  # jitter
        self._loss = random.Random(None if seed is None else seed + 1)  # resets: their own stream
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._want_online = online

    async def start(self) -> None:
        if self._want_online:
            await self._listen()

    async def set_online(self, online: bool) -> None:
        self._want_online = online
        if online and self._server is None:
            await self._listen()
        elif not online and self._server is not None:
            self._server.close()
            self._server = None
            for task in list(self._connections):
                task.cancel()

    async def stop(self) -> None:
        """Down, and every open connection's task finished: a loop closed right after (the bench's
        link thread) must not find them pending."""
        tasks = list(self._connections)
        await self.set_online(False)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, *self.listen, reuse_address=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._proxy(reader, writer)
        except (asyncio.CancelledError, ConnectionError, OSError):
            _reset(writer)
        finally:
            self._connections.discard(task)
            writer.close()

    async def _proxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._loss.random() < self.profile.loss:
            _reset(writer)
            return
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        try:
            await asyncio.gather(self._direction(reader, up_writer), self._direction(up_reader, writer))
        finally:
            up_writer.close()

    async def _direction(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        """Bytes leave after the one-way delay (+ jitter), never before earlier bytes, paced by bandwidth."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        deliver = asyncio.create_task(self._deliver(queue, sink))
        last_due = 0.0
        try:
            while data := await source.read(CHUNK):
                jitter = self._random.uniform(-self.profile.jitter_s, self.profile.jitter_s)
                last_due = max(time.monotonic() + max(self.profile.one_way_s + jitter, 0.0), last_due)
                queue.put_nowait((last_due, data))
            queue.put_nowait((last_due, b""))
            await deliver
        finally:
            deliver.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                await deliver  # done before this connection's task is, never left pending

    async def _deliver(self, queue: asyncio.Queue[tuple[float, bytes]], sink: asyncio.StreamWriter) -> None:
        free_at = 0.0  # when the emulated link has sent the previous bytes
        while True:
            due, data = await queue.get()
            if not data:
                if sink.can_write_eof():
                    sink.write_eof()
                return
            if self.profile.bandwidth_bps:
                free_at = max(free_at, due) + len(data) * 8 / self.profile.bandwidth_bps
                due = free_at
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sink.write(data)
            await sink.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def serve_link(emulator: LinkEmulator) -> None:
    """Runs until SIGINT/SIGTERM; SIGUSR1 takes the link down, SIGUSR2 brings it back."""
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    loop.add_signal_handler(signal.SIGUSR1, lambda: asyncio.ensure_future(emulator.set_online(False)))
    loop.add_signal_handler(signal.SIGUSR2, lambda: asyncio.ensure_future(emulator.set_online(True)))
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    loop.add_signal_handler(signal.SIGINT, stopped.set)
    await emulator.start()
    await stopped.wait()
    await emulator.stop()


def profile_from(
    preset: str | None, rtt: str | None, jitter: str | None, bandwidth: str | None, loss: str | None
) -> LinkProfile:
    profile = PRESETS[preset] if preset else LinkProfile()
    if rtt:
        profile = replace(profile, rtt_s=parse_duration(rtt))
    if jitter:
        profile = replace(profile, jitter_s=parse_duration(jitter))
    if bandwidth:
        profile = replace(profile, bandwidth_bps=parse_rate(bandwidth))
    if loss:
        profile = replace(profile, loss=parse_share(loss))
    return profile


def host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)
