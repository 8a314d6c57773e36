"""Text analysis done in Python, shared by indexing and querying so the two never disagree.

The minimal Elasticsearch has no ``cjk``/``icu``/``smartcn`` analysis, so the terms of the CJK
and pinyin fields are made here and indexed with the built-in ``whitespace`` analyzer:

* :mod:`mappings.analysis.han` — overlapping bigrams of Han, kana and Hangul runs (what Lucene's
  ``CJKBigramFilter`` emits) for the index, and the query's Han runs cut into words by jieba,
  each word then matched as a phrase of its bigrams (so the words may stand anywhere, in any order);
* :mod:`mappings.analysis.pinyin` — Hanyu Pinyin readings by pypinyin (its phrase dictionary
  chooses the reading of polyphonic characters) and the splitting of a typed pinyin word such as
  ``hongloumeng`` into syllables.

Every function takes text already folded by :func:`mappings.textnorm.fold` (Simplified, lower case,
no tone marks), so Traditional and Simplified forms give the same terms.
"""

from mappings.analysis.han import bigrams, cjk_runs, cjk_terms, cjk_text, is_cjk, query_words
from mappings.analysis.pinyin import pinyin_splits, pinyin_syllables, pinyin_text

__all__ = [
    "bigrams",
    "cjk_runs",
    "cjk_terms",
    "cjk_text",
    "is_cjk",
    "pinyin_splits",
    "pinyin_syllables",
    "pinyin_text",
    "query_words",
]
