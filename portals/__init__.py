"""Opening the union catalogue to other systems: SRU, exports, citations, embedded metadata,
OpenSearch and feeds, API keys with rate limits.

Services only: nothing here knows HTTP. The routers in ``api/routes`` and the pages in ``web``
call these functions and turn their results and errors into responses.
"""
