"""The hybrid gateway: one OpenAI-compatible endpoint that places each request on a tier and says why."""
