"""The fleet: each device runs its own gateway in front of its local edge model and the shared cloud.

- Edge: one llama.cpp worker per device (a FIFO queue of `max_queue`, then 429), prefill and decode at
  the class's measured tokens/s; energy = busy seconds x active power.
- Network: each device's RTT is drawn once (lognormal around the class median); prompts travel at the
  class bandwidth; a share of requests finds the link down (the cloud unreachable for that device).
- What each device's gateway sees (its TierStates), as Upstream.load and the EWMAs give it: each
  tier's queue as the larger of the device's own requests in flight there and what the last probe
  (every probe_interval_s) reported, the edge's EWMA TTFT, the cloud's service time as an EWMA over
  the fleet plus the device's own RTT, and the period's cloud spend. Rebuilt at most every
  STATES_TTL_S, as the gateway's, so requests arriving together are placed on the same figures.
- Placement: SimPlacer, i.e. the gateway's policy chain; a cascade answers on the edge and a share
  (`escalation`) is asked again on the cloud; a cloud 429 fails over to the edge unless pinned."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from edgecloud.gateway.placement import STATES_TTL_S, Decision
from edgecloud.sim.cloud import CloudTier
from edgecloud.sim.engine import Engine
from edgecloud.sim.placer import PII_KINDS, SimPlacer, steps_to, to_steps
from edgecloud.sim.scenario import Scenario
from edgecloud.sim.workload import Fleet, Workload, mix_entries

EDGE, CLOUD, FAILED = 0, 1, 2
# Per request code: (kind, stream, task, privacy local, hint cloud, pii), max_tokens, class, edge on,
# link up, mix entry.
Row = tuple[tuple[str, bool, str | None, str | None, str | None, tuple[str, ...]], int, int, bool, bool, int]
EDGE_DOWN = "model off (battery saver)"
CLOUD_DOWN = "unreachable"
EWMA_ALPHA = 0.2  # as the gateway's Upstream.ttft


@dataclass
class Outcome:
    """Per request: where it ran, the decision id, TTFT and end-to-end seconds (nan when failed)."""

    tier: NDArray[np.int8]
    decision: NDArray[np.int32]
    ttft: NDArray[np.float64]
    e2e: NDArray[np.float64]
    escalated: NDArray[np.bool_]
    failover: NDArray[np.bool_]
    edge_busy_s: NDArray[np.float64]
    cloud_wait: NDArray[np.float64]
    queue_samples: list[tuple[float, int, int, int]]  # (time, queued, replicas, running) per probe


class FleetSim:
    def __init__(self, scenario: Scenario, fleet: Fleet, workload: Workload, engine: Engine) -> None:
        self.scenario = scenario
        self.fleet = fleet
        self.w = workload
        self.engine = engine
        cloud = scenario.cloud
        self.cloud = CloudTier(engine, cloud, len(workload))
        self.cloud.on_first = self._cloud_first
        self.cloud.on_done = self._cloud_done
        self.placer = SimPlacer(
            scenario.gateway, (cloud.price.input_per_1k, cloud.price.output_per_1k), cloud.context_length
        )
        n = len(workload)
        self.tier = [EDGE] * n
        self.decision = [0] * n
        self.ttft = [math.nan] * n
        self.e2e = [math.nan] * n
        self.escalated = [False] * n
        self.failover = [False] * n
        self.edge_busy = [0.0] * n
        devices = len(fleet.device_class)
        self._busy_until = [0.0] * devices
        # Per device: (start, done) of each edge request not done at the last probe, in FIFO order.
        self._pending: list[deque[tuple[float, float]]] = [deque() for _ in range(devices)]
        self._probe_at = 0.0  # the last probe's time
        self._edge_ewma = [-1] * devices  # in TTFT steps
        self._edge_value = [0.0] * devices
        self._rtt = fleet.rtt_s.tolist()
        self._rtt_steps = [to_steps(r) for r in self._rtt]
        self._rtt_kept = [steps_to(r) or 0.0 for r in self._rtt_steps]
        self._cloud_service: float | None = None  # fleet-wide EWMA of the cloud's TTFT without RTT
        self._cloud_arrival = [0.0] * n  # when the request reached the cloud
        self._cloud_ahead = [0] * n  # the queue the gateway saw when it sent the request there
        self._cloud_open = [0] * devices  # sent to the cloud by the device's gateway, not yet answered
        self._probe_queue = 0
        self._seen: list[tuple[int, int, int, int]] = [(0, -1, 0, -1)] * devices  # see _load_seen
        self._seen_until = [-1.0] * devices
        self._probe_full = False
        self._spend = 0.0
        self._spend_step = 0
        self._period_end = self.placer.period_s
        self._cloud_up = cloud.replicas > 0 or cloud.max_replicas is not None
        self.queue_samples: list[tuple[float, int, int, int]] = []
        self._classes = [
            (d.prefill_tok_s, d.decode_tok_s, d.max_queue, d.context_length, d.network.bandwidth_mbit)
            for d in scenario.devices
        ]

    def _request_table(self) -> tuple[list[int], list[Row]]:
        """Each request's code (mix entry and flags) and the placement key for every code, so the
        event loop reads one integer instead of eight columns."""
        w = self.w
        flags = (
            w.stream.astype(np.int64) * 32
            + w.pii * 16
            + w.privacy_local * 8
            + w.hint_cloud * 4
            + w.edge_off * 2
            + w.link_down
        )
        codes = w.mix.astype(np.int64) * 64 + flags
        table: list[Row] = []
        for m, (c, entry) in enumerate(mix_entries(self.scenario)):
            for f in range(64):
                request = (
                    entry.kind,
                    bool(f & 32),
                    entry.task,
                    "local" if f & 8 else None,
                    "cloud" if f & 4 else None,
                    PII_KINDS if f & 16 else (),
                )
                table.append((request, entry.max_tokens or 0, c, not f & 2, not f & 1, m))
        return codes.tolist(), table

    def run(self, progress: Callable[[int], None] | None = None) -> Outcome:
        self.engine.schedule(0.0, self._probe)
        w = self.w
        self._codes, self._table = self._request_table()
        # The placement view of each request code when its prompt fits the edge's context.
        self._fits = [(*row[0], 0, row[1]) for row in self._table]
        self._device = w.device.tolist()
        self._prompt = w.prompt_tokens.tolist()
        self._answer = w.answer_tokens.tolist()
        self._escalate_flag = w.escalate.tolist()
        self._time = w.time.tolist()
        users = self.scenario.closed_users
        if users:
            self._closed_loop(users, progress)
        else:
            self.engine.run(w.time.tolist(), self._arrival, progress=progress)
        self.cloud.finish(self.engine.now)
        return self._outcome()

    def _closed_loop(self, users: int, progress: Callable[[int], None] | None) -> None:
        """A benchmark's clients: `users` requests in flight, each answer's arrival sends the next, in
        rounds when the scenario has them. One simulation runs every round, so what the gateway has
        learned (its EWMAs) carries from round to round, as in the live gateway."""
        arrivals = self.scenario.devices[0].arrivals
        self._arrived = [math.nan] * len(self.w)
        self._users = users
        self._round = arrivals.round_requests or len(self.w)
        self._round_gap = arrivals.round_gap_s
        self._issued = self._round_end = self._answers = 0
        self._last_answer = 0.0
        self._start_round(0.0, None)
        self.engine.run([], self._arrival, progress=progress)

    def _start_round(self, now: float, _: object) -> None:
        self._round_end = min(self._issued + self._round, len(self.w))
        first = self._issued
        self._issued = min(first + self._users, self._round_end)
        for i in range(first, self._issued):
            self.engine.schedule(now, self._closed_arrival, i)

    def _closed_arrival(self, now: float, i: int) -> None:
        self._arrived[i] = now
        self._arrival(now, i)
        if self.tier[i] == FAILED:
            self._answered(now)
        elif self.tier[i] == EDGE and not self.escalated[i]:
            self._answered(now + self.e2e[i])

    def _answered(self, at: float) -> None:
        """Called once per request, when its answer's time is known (`at` may be ahead of now)."""
        self._answers += 1
        self._last_answer = max(self._last_answer, at)
        if self._issued < self._round_end:
            self.engine.schedule(at, self._closed_arrival, self._issued)
            self._issued += 1
        elif self._answers == self._round_end < len(self.w):
            self.engine.schedule(self._last_answer + self._round_gap, self._start_round)

    def _probe(self, now: float, _: object) -> None:
        """What /health reports every probe interval: requests waiting or running per ready replica."""
        cloud = self.cloud
        ready = max(cloud.ready(now), 1)
        self._probe_queue = (len(cloud.queue) + cloud.running) // ready  # waiting or running, as /health
        self._probe_at = now  # and each edge's, read back by _edge_load
        self._probe_full = len(cloud.queue) >= cloud.spec.queue_limit
        self._cloud_up = cloud.replicas > 0 or bool(cloud.spec.max_replicas)  # an autoscaler adds one
        self.queue_samples.append((now, len(cloud.queue), cloud.replicas, cloud.running))
        cloud.autoscale(now)
        if self.scenario.closed_users:
            more = self._issued < len(self.w) or cloud.running > 0 or bool(cloud.queue)
        else:
            more = now < self.scenario.duration_s
        if more:
            self.engine.schedule(now + self.scenario.gateway.probe_interval_s, self._probe)

    def _arrival(self, now: float, i: int) -> None:
        request, max_tokens, cls, edge_on, link_up, _ = self._table[self._codes[i]]
        device, prompt = self._device[i], self._prompt[i]
        context = self._classes[cls][3]
        running, edge_seen = self._edge_load(device, now)
        full = running - 1 >= self._classes[cls][2]  # waiting, beside the one decoding
        edge_queue, edge_ewma, cloud_queue, c_ewma = self._load_seen(now, device, edge_seen)
        edge_key = (edge_on, full, edge_queue, edge_ewma, context, "" if edge_on else EDGE_DOWN, -1)
        if now >= self._period_end:
            self._roll_period(now)
        cloud_up = link_up and self._cloud_up
        cloud_key = (
            cloud_up,
            self._probe_full,
            cloud_queue,
            c_ewma,
            self._rtt_steps[device],
            self._spend_step,
            "" if cloud_up else CLOUD_DOWN,
        )
        code = self._codes[i]
        if prompt + max_tokens > context:  # the task policy reads the length only here
            placed = self.placer.place(
                (*request, prompt, max_tokens), edge_key, cloud_key, now, (code, prompt)
            )
        else:
            placed = self.placer.place(self._fits[code], edge_key, cloud_key, now, code)
        self.decision[i] = placed.id
        self._dispatch(now, i, placed.decision, cls, edge_on and not full, cloud_up)

    def _edge_load(self, device: int, now: float) -> tuple[int, int]:
        """The device's edge requests waiting or running now, and that count as its gateway reads it
        (Upstream.load): the larger of its own in-flight count and the node's /health at the last
        probe, up to a probe interval old."""
        jobs = self._pending[device]
        if not jobs:
            return 0, 0
        tick = self._probe_at
        while jobs and jobs[0][1] <= tick:
            jobs.popleft()
        running = probed = 0
        for start, done in jobs:
            running += done > now
            probed += start <= tick
        return running, max(running, probed)

    def _load_seen(self, now: float, device: int, edge_seen: int) -> tuple[int, int, int, int]:
        """Queues and EWMA TTFT steps (edge, then cloud) as the device's gateway reads them: its tier
        states are rebuilt at most every STATES_TTL_S, so requests arriving together (a round's
        clients) are all placed on the figures the first one found."""
        if now < self._seen_until[device]:
            return self._seen[device]
        service = self._cloud_service
        figures = (
            edge_seen,
            self._edge_ewma[device],
            self._cloud_queue(device),
            -1 if service is None else to_steps(service + self._rtt_kept[device]),
        )
        self._seen[device] = figures
        self._seen_until[device] = now + STATES_TTL_S
        return figures

    def _dispatch(
        self, now: float, i: int, decision: Decision, cls: int, edge_ok: bool, cloud_ok: bool
    ) -> None:
        """Run the request where the decision says; a tier that refuses (429, down) hands it to the
        other one unless the decision is pinned, as the gateway's proxy fails over."""
        device, prompt, answer = self._device[i], self._prompt[i], self._answer[i]
        if decision.tier == "cloud":
            if cloud_ok:
                self._to_cloud(now, i, device, prompt, cls)
            elif decision.pinned or not edge_ok:
                self.tier[i] = FAILED
            else:
                self.failover[i] = True
                self._on_edge(now, i, device, prompt, answer, cls)
        elif edge_ok:
            done = self._on_edge(now, i, device, prompt, answer, cls)
            if decision.cascade and self._escalate_flag[i]:
                self.escalated[i] = True
                self.engine.schedule(done, self._escalate, i)
        elif not decision.pinned and cloud_ok:
            self.failover[i] = True  # the edge's 429 (queue full) sent it to the cloud
            self._to_cloud(now, i, device, prompt, cls)
        else:
            self.tier[i] = FAILED  # pinned to an edge that is off or full: 503 / 429

    def _roll_period(self, now: float) -> None:
        period = self.placer.period_s
        self._period_end = (now // period + 1) * period
        self._spend = 0.0
        self._spend_step = 0

    def _on_edge(
        self, now: float, i: int, device: int, prompt: int, answer: int, cls: int, since: float | None = None
    ) -> float:
        """The device's llama.cpp worker takes the request at `now` (FIFO); latencies count from
        `since` (the client's request) when that was earlier. Returns when the answer is complete."""
        prefill_rate, decode_rate = self._classes[cls][0], self._classes[cls][1]
        start = max(now, self._busy_until[device])
        ahead = self._edge_load(device, now)[1]  # as the gateway reads it when it sends (Opened.ahead)
        prefill = prompt / prefill_rate
        first = start + prefill + 1.0 / decode_rate
        done = start + prefill + answer / decode_rate
        self._busy_until[device] = done
        self._pending[device].append((now, done))
        self.tier[i] = EDGE
        origin = now if since is None else since
        self.ttft[i] = first - origin
        self.e2e[i] = done - origin
        self.edge_busy[i] = done - start
        old = self._edge_value[device]
        sample = (first - now) / (1 + ahead)  # queue-free, as Upstream.observe_ttft
        value = sample if self._edge_ewma[device] < 0 else EWMA_ALPHA * sample + 0.8 * old
        self._edge_value[device] = value
        self._edge_ewma[device] = to_steps(value)
        return done

    def _to_cloud(self, now: float, i: int, device: int, prompt: int, cls: int) -> None:
        """The request travels half an RTT (and its prompt's bytes) to the cloud: an event there."""
        bandwidth = self._classes[cls][4]
        arrive = now + self._rtt[device] / 2 + prompt * 32 / (bandwidth * 1e6)  # ~4 bytes a token
        self._cloud_arrival[i] = arrive
        self._cloud_ahead[i] = self._cloud_queue(device)
        self._cloud_open[device] += 1
        self.tier[i] = CLOUD
        self.engine.schedule(arrive, self._at_cloud, i)

    def _at_cloud(self, now: float, i: int) -> None:
        prompt, answer = self._prompt[i], self._answer[i]
        if self.cloud.submit(now, i, float(prompt), float(answer)):
            price_in, price_out = self.placer.cloud_price
            self._spend += prompt / 1000 * price_in + answer / 1000 * price_out
            self._spend_step = self.placer.spend_step(self._spend)
            return
        self._cloud_open[self._device[i]] -= 1
        back = now + self._rtt[self._device[i]] / 2  # the 429 travels back
        if self.escalated[i]:
            self.escalated[i] = False  # the cloud was full: the edge's answer stands
            self.tier[i] = EDGE
            self._closed_answered(back)
            return
        row = self._table[self._codes[i]]
        if self.placer.decisions[self.decision[i]].pinned or not row[3]:
            self.tier[i] = FAILED
            self._closed_answered(back)
            return
        self.failover[i] = True
        since = self._arrived[i] if self.scenario.closed_users else self._time[i]
        done = self._on_edge(back, i, self._device[i], prompt, answer, row[2], since=since)
        self._closed_answered(done)

    def _closed_answered(self, at: float) -> None:
        if self.scenario.closed_users:
            self._answered(at)

    def _escalate(self, now: float, i: int) -> None:
        cls = self._table[self._codes[i]][2]
        self._to_cloud(now, i, self._device[i], self._prompt[i], cls)

    def _cloud_queue(self, device: int) -> int:
        """The cloud's queue as the device's gateway reads it (Upstream.load): the last probe's, or the
        device's own requests in flight there when that is more."""
        return max(self._probe_queue, self._cloud_open[device])

    def _cloud_done(self, request: int, at: float) -> None:
        self._cloud_open[self._device[request]] -= 1
        if self.scenario.closed_users:
            self._answered(at + self._rtt[self._device[request]] / 2)

    def _cloud_first(self, request: int, first: float) -> None:
        ahead = self._cloud_ahead[request]
        service = (first - self._cloud_arrival[request]) / (1 + ahead)  # as Upstream.observe_ttft
        old = self._cloud_service
        self._cloud_service = service if old is None else EWMA_ALPHA * service + (1 - EWMA_ALPHA) * old

    def _outcome(self) -> Outcome:
        tier = np.array(self.tier, np.int8)
        ttft = np.array(self.ttft)
        e2e = np.array(self.e2e)
        rtt = self.fleet.rtt_s[self.w.device]
        cloud = tier == CLOUD
        arrived = np.array(self._arrived) if self.scenario.closed_users else self.w.time
        first = np.array(self.cloud.first) + rtt / 2 - arrived
        done = np.array(self.cloud.done) + rtt / 2 - arrived
        ttft[cloud] = first[cloud]
        e2e[cloud] = done[cloud]
        failed = tier == FAILED
        ttft[failed] = np.nan
        e2e[failed] = np.nan
        wait = np.array(self.cloud.admit) - np.array(self._cloud_arrival)
        return Outcome(
            tier=tier,
            decision=np.array(self.decision, np.int32),
            ttft=ttft,
            e2e=e2e,
            escalated=np.array(self.escalated),
            failover=np.array(self.failover),
            edge_busy_s=np.array(self.edge_busy),
            cloud_wait=np.where(cloud, wait, np.nan),
            queue_samples=self.queue_samples,
        )
