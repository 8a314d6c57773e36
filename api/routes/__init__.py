"""One thin router module per resource; each calls service functions in ``catalog``/``holdings``/``ill``."""
