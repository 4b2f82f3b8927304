"""privacy: what happens to a prompt with PII (or a `privacy: local` hint).

- keep-local (default): it stays on the edge, pinned (never failed over).
- redact: it may go to the cloud, but only with each entity replaced by a typed placeholder; the
  gateway puts the originals back into the answer.
- block: it is refused with 403 and the reason."""

from __future__ import annotations

from edgecloud.errors import Forbidden
from edgecloud.gateway.placement import Decision, RequestView, TierStates
from edgecloud.privacy.pii import Detector, Finding, default_detectors, find_pii

MODES = ("keep-local", "redact", "block")


class PrivacyPolicy:
    name = "privacy"

    def __init__(self, mode: str = "keep-local", ner: bool = False) -> None:
        """`ner`: also look for person and location names (Presidio + spaCy; ~6 ms per prompt)."""
        if mode not in MODES:
            raise ValueError(f"privacy mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode = mode
        self.detectors: list[Detector] = default_detectors()
        if ner:
            from edgecloud.privacy.ner import PresidioNerDetector

            self.detectors.append(PresidioNerDetector())

    def findings(self, request: RequestView) -> list[Finding]:
        return find_pii(request.text, self.detectors)

    def pii_kinds(self, request: RequestView) -> tuple[str, ...]:
        """The kinds of PII in the request, sorted: those it carries when already detected, else found now."""
        if request.pii is not None:
            return request.pii
        return tuple(sorted({finding.kind for finding in self.findings(request)}))

    def decide(self, request: RequestView, tiers: TierStates) -> Decision | None:
        if request.privacy_hint == "local":
            return Decision(tiers.edge, self.name, "client asked privacy: local", pinned=True)
        found = self.pii_kinds(request)
        if not found:
            return None
        kinds = ", ".join(found)
        if self.mode == "block":
            raise Forbidden(f"prompt contains PII ({kinds}) and this gateway blocks it", code="pii_blocked")
        if self.mode == "redact":
            return None  # any tier may answer; the gateway redacts what goes beyond the edge
        return Decision(
            tiers.edge, self.name, f"prompt contains PII ({kinds}); kept on the edge", pinned=True
        )

    def keep_local(self, decision: Decision, request: RequestView, tiers: TierStates) -> Decision:
        """In keep-local mode PII never leaves the edge, whatever order the chain is in."""
        if self.mode != "keep-local" or decision.tier == tiers.edge:
            return decision
        if request.privacy_hint == "local" or self.pii_kinds(request):
            return Decision(
                tiers.edge,
                self.name,
                f"prompt contains PII; kept on the edge ({decision.policy} wanted {decision.tier})",
                pinned=True,
            )
        return decision
