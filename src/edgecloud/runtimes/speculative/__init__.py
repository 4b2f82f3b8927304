"""Speculative decoding: a small draft model proposes tokens, the target keeps the ones it would have
produced. Inside one node (`serve --draft-model`) or across the link (the edge drafts, the cloud node's
verify route checks)."""
