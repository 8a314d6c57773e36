"""Interlibrary loan and document delivery: requests routed across members, tracked after ISO 18626."""
