from pathlib import Path

from edgecloud.security.auth import RateLimiter
from edgecloud.security.keys import KeyStore


def test_a_key_is_stored_only_as_a_hash_and_verifies(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    record, secret = KeyStore(path).create("ci", models=("m",), rpm=5)
    assert secret.startswith(f"ec_{record.id}_")
    assert secret not in path.read_text()
    assert path.stat().st_mode & 0o077 == 0
    reloaded = KeyStore(path)
    assert reloaded.verify(secret) == record
    assert reloaded.verify(secret + "x") is None
    assert reloaded.verify(f"ec_{record.id}_wrong") is None
    assert reloaded.verify("not-a-key") is None
    assert record.allows_model("m") and not record.allows_model("other")
    assert reloaded.revoke(record.id) and KeyStore(path).verify(secret) is None


def test_rate_limiter_refills_at_the_key_rate(tmp_path: Path) -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    record, _ = KeyStore(tmp_path / "k.json").create("x", rpm=2)
    assert limiter.take(record) == 0 and limiter.take(record) == 0
    wait = limiter.take(record)
    assert 29 < wait <= 30  # 2 a minute: the next token in 30 s
    now[0] = 30.0
    assert limiter.take(record) == 0
