"""API keys: created once and shown once; the key file keeps only a SHA-256 of each secret (keys are
random 256-bit values, so a fast hash is enough), compared in constant time. A key carries its id
(`ec_<id>_<secret>`), so verification is one lookup and one comparison, and logs can name the id."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from edgecloud.errors import InvalidRequest

PREFIX = "ec"


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    hash: str
    models: tuple[str, ...] = ()  # empty: every model
    tiers: tuple[str, ...] = ()  # empty: every tier
    rpm: int | None = None  # requests per minute; None: unlimited
    privacy: str | None = None  # this tenant's gateway privacy mode (keep-local, redact, block)
    created: float = field(default_factory=time.time)
    admin: bool = False  # may watch and change the gateway at run time (the dashboard)

    def allows_model(self, model: str) -> bool:
        return not self.models or model in self.models

    def allows_tier(self, tier: str) -> bool:
        return not self.tiers or tier in self.tiers


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._keys: dict[str, ApiKey] = {}
        if path.exists():
            self._load()

    def _load(self) -> None:
        try:
            rows = json.loads(self.path.read_text()).get("keys", [])
            for row in rows:
                key = ApiKey(
                    **{**row, "models": tuple(row.get("models", ())), "tiers": tuple(row.get("tiers", ()))}
                )
                self._keys[key.id] = key
        except (ValueError, TypeError, AttributeError) as exc:
            raise InvalidRequest(f"{self.path} is not an edgecloud key file: {exc}") from None

    def create(
        self,
        name: str,
        *,
        models: tuple[str, ...] = (),
        tiers: tuple[str, ...] = (),
        rpm: int | None = None,
        privacy: str | None = None,
        admin: bool = False,
    ) -> tuple[ApiKey, str]:
        """A new key; the returned secret is the only copy anywhere."""
        key_id = secrets.token_hex(4)
        while key_id in self._keys:
            key_id = secrets.token_hex(4)
        secret = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKey(key_id, name, _digest(secret), models, tiers, rpm, privacy, admin=admin)
        self._keys[key_id] = record
        self._save()
        return record, secret

    def verify(self, presented: str) -> ApiKey | None:
        parts = presented.split("_", 2)
        record = self._keys.get(parts[1]) if len(parts) == 3 and parts[0] == PREFIX else None
        expected = record.hash if record is not None else _digest("no such key")
        matches = hmac.compare_digest(_digest(presented), expected)  # same work whether or not the id exists
        return record if matches and record is not None else None

    def revoke(self, key_id: str) -> bool:
        found = self._keys.pop(key_id, None) is not None
        self._save()
        return found

    def records(self) -> list[ApiKey]:
        return list(self._keys.values())

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_suffix(".tmp")
        staging.write_text(json.dumps({"keys": [asdict(k) for k in self._keys.values()]}, indent=2))
        staging.chmod(0o600)
        staging.replace(self.path)
