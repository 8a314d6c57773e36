"""CJK runs as index terms (overlapping bigrams) and query words (jieba).

Index side: every run of Han and kana characters, and every run of Hangul, becomes its
overlapping bigrams (``中国历史`` → ``中国 国历 历史``); a run of one character is kept as a
unigram, as Lucene's ``CJKBigramFilter`` does. No dictionary is involved, so a word the
dictionary does not know is indexed as well as one it knows.

Query side: a Han run is cut into words by jieba (precise mode, no HMM guessing: a guessed word
would demand its characters stand together in the record); each word of two or more characters is
matched as the phrase of its bigrams, which finds it wherever it stands. Runs holding kana or
Hangul are not segmented (jieba knows only Chinese); they are matched whole, as a bigram phrase.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
#: Hiragana and katakana letters; not the middle dot ・ (U+30FB), which Chinese titles use as a separator.
_HIRAGANA = "\u3040-\u309f"
_KATAKANA = "\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff"
_KANA = _HIRAGANA + _KATAKANA
_HANGUL = "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"
#: A run of Han and kana (Japanese mixes them within words), or a run of Hangul.
CJK_RUN_PATTERN = f"[{_HAN}{_KANA}]+|[{_HANGUL}]+"
_RUN_RE = re.compile(CJK_RUN_PATTERN)
_HAN_ONLY_RE = re.compile(f"[{_HAN}]+")
_CJK_CHAR_RE = re.compile(f"[{_HAN}{_KANA}{_HANGUL}]")

_jieba: Any = None


def _tokenizer() -> Any:
    global _jieba
    if _jieba is None:
        import jieba

        jieba.setLogLevel(60)
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        _jieba = tokenizer
    return _jieba


def is_cjk(text: str) -> bool:
    """True when ``text`` holds a Han, kana or Hangul character."""
    return not text.isascii() and _CJK_CHAR_RE.search(text) is not None


def cjk_runs(text: str) -> list[str]:
    """The CJK runs of ``text`` in order (Han+kana runs and Hangul runs)."""
    if text.isascii():
        return []
    return _RUN_RE.findall(text)


def bigrams(run: str) -> list[str]:
    """Overlapping bigrams of one run; a one-character run is its own unigram."""
    if len(run) < 2:
        return [run] if run else []
    return [run[i : i + 2] for i in range(len(run) - 1)]


def cjk_terms(text: str) -> list[str]:
    """The index terms of every CJK run of folded ``text``, in order."""
    return [gram for run in cjk_runs(text) for gram in bigrams(run)]


def cjk_text(text: str) -> str:
    """:func:`cjk_terms` joined by spaces: the value of a ``*_cjk`` field (whitespace analyzer)."""
    return " ".join(cjk_terms(text))


_SCRIPT_RUN_RE = re.compile(f"[{_HAN}]+|[{_HIRAGANA}]+|[{_KATAKANA}]+|[{_HANGUL}]+")


@lru_cache(maxsize=8192)
def query_words(run: str) -> tuple[str, ...]:
    """A CJK run of a query cut into the words a reader meant (``中国历史`` → ``中国``, ``历史``).

    Han is cut by jieba. Japanese mixes scripts within a run: each change of script (Han,
    hiragana, katakana) is taken as a word boundary (``ミイラ日本`` → ``ミイラ``, ``日本``), and its Han
    parts are not cut further (jieba knows Chinese, not Japanese). A Hangul run is one word: Korean
    separates words with spaces."""
    if _HAN_ONLY_RE.fullmatch(run):
        return tuple(w for w in _tokenizer().cut(run, HMM=False) if w.strip())
    return tuple(_SCRIPT_RUN_RE.findall(run)) or (run,)
