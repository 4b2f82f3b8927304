from edgecloud.gateway.breaker import Breaker, BreakerState


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_five_consecutive_failures() -> None:
    breaker = Breaker(failures=5, cooldown_s=10, clock=Clock())
    for _ in range(4):
        breaker.failure()
        assert breaker.allow()
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()


def test_a_success_resets_the_count() -> None:
    breaker = Breaker(failures=3, clock=Clock())
    breaker.failure()
    breaker.failure()
    breaker.success()
    breaker.failure()
    breaker.failure()
    assert breaker.state is BreakerState.CLOSED


def test_one_probe_after_the_cooldown_then_closed_on_success() -> None:
    clock = Clock()
    breaker = Breaker(failures=1, cooldown_s=10, clock=clock)
    breaker.failure()
    clock.now = 9.9
    assert not breaker.allow() and not breaker.would_allow()
    clock.now = 10.0
    assert breaker.would_allow()
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one at a time
    breaker.success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()


def test_a_failed_probe_opens_the_breaker_again() -> None:
    clock = Clock()
    breaker = Breaker(failures=5, cooldown_s=10, clock=clock)
    for _ in range(5):
        breaker.failure()
    clock.now = 11
    assert breaker.allow()
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.seconds_until_probe() == 10
