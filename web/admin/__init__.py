"""The administration console's pages (``/admin``): Jinja2, both interface languages, no JavaScript needed."""
