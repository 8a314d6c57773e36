"""Live availability: one connector per kind of member system, and the fan-out service that asks
every holding member at once (per-member timeout, short Redis cache, circuit breaker)."""
