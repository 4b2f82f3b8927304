"""Privacy: PII detection at the edge (and, with the privacy work, redaction, DP and federated learning)."""
