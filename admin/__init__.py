"""Administration services: roles, the audit log, the harvest dashboard, members editing, connection
checks and search analytics. Free of HTTP: the API routers and the web pages call these."""
