"""`edgecloud bench gpu`: the transformers runtime and continuous batching on a GPU against the CPU path."""
