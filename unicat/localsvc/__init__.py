"""Start, stop and inspect the real services unicat needs locally (Elasticsearch, Redis)."""

from unicat.localsvc.process import LocalServiceError, free_port

__all__ = ["LocalServiceError", "free_port"]
