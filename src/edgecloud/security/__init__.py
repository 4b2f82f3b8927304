"""Transport and access security: local certificates for TLS (and, with the access work, API keys)."""
