"""unicat: union-catalogue discovery and resource sharing for library consortia."""

__version__ = "0.1.0"
