"""privacy: a prompt with PII, or a `privacy: local` hint, stays on the edge (pinned: no failover)."""

from __future__ import annotations

from edgecloud.gateway.placement import Decision, RequestView, TierStates
from edgecloud.privacy.pii import default_detectors, find_pii


class PrivacyPolicy:
    name = "privacy"

    def __init__(self, mode: str = "keep-local") -> None:
        if mode != "keep-local":  # redact and block arrive with the privacy work; keep-local is safe
            raise ValueError(f"privacy mode {mode!r} is not available yet; use keep-local")
        self.mode = mode
        self._detectors = default_detectors()

    def decide(self, request: RequestView, tiers: TierStates) -> Decision | None:
        if request.privacy_hint == "local":
            return Decision(tiers.edge, self.name, "client asked privacy: local", pinned=True)
        findings = find_pii(request.text, self._detectors)
        if not findings:
            return None
        kinds = ", ".join(sorted({finding.kind for finding in findings}))
        return Decision(
            tiers.edge, self.name, f"prompt contains PII ({kinds}); kept on the edge", pinned=True
        )
