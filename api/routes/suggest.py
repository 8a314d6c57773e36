"""``GET /api/v1/suggest``: completions for the search box (OpenSearch Suggestions JSON)."""

from __future__ import annotations

from typing import Annotated

import orjson
from elasticsearch import ApiError as EsApiError
from elasticsearch import TransportError
from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import ServicesDep
from api.errors import ApiError
from catalog.suggest import MAX_TYPED, SuggestError, opensearch_answer, suggest

router = APIRouter(tags=["search"])
MEDIA_TYPE = "application/x-suggestions+json"


@router.get("/suggest", summary="Complete a title, author or subject from what was typed")
def suggest_completions(
    services: ServicesDep,
    q: Annotated[str, Query(max_length=MAX_TYPED, description="What the reader has typed so far")] = "",
) -> Response:
    """``[q, [completions…], [kinds…]]``: up to 5 titles, 3 authors and 3 subject headings whose
    folded text or pinyin starts with ``q`` (Chinese in either character form, pinyin with or
    without spaces and tones, or Latin letters). An empty ``q`` gets no completions."""
    try:
        answer = opensearch_answer(q, suggest(services, q))
    except SuggestError as exc:
        raise ApiError(400, "bad_query", str(exc)) from None
    except (TransportError, EsApiError):
        raise ApiError(503, "search_unavailable", "the search index is not available right now") from None
    return Response(orjson.dumps(answer), media_type=MEDIA_TYPE, headers={"Cache-Control": "max-age=60"})
