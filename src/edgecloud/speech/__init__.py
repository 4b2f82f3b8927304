"""Speech at the edge: the voice dialogue pipeline, test speech from espeak-ng, word error rate."""
