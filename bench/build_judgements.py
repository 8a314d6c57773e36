"""Build the judged query sets in ``bench/judgements/`` from the records' own fields.

    python bench/build_judgements.py demo          # the demo consortium (5,034 records)
    python bench/build_judgements.py lc [--records 100000]

The queries and their relevant records are made by rules over each record's crosswalked fields
(title, subjects, authors, series, notes, publisher, ISBNs: the record store's documents), never by
running a search, so they do not depend on the ranking they measure. The rules, the grades and
what was checked by eye are in ``bench/judgements/README.md``. The output is deterministic for a
given store (records are taken in (member, local id) order and sampled with a fixed seed).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import isbnlib  # noqa: E402
import jieba  # noqa: E402
import opencc  # noqa: E402
from pypinyin import Style, lazy_pinyin  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bench.catalogues import catalogue, work_dir  # noqa: E402
from bench.common import es_node  # noqa: E402
from catalog.relevance import write_set  # noqa: E402
from mappings.textnorm import fold, has_han  # noqa: E402
from store.models import SourceRecord  # noqa: E402

OUT = Path(__file__).resolve().parent / "judgements"
SEED = 13
#: A topical query whose words occur in more records than this is not kept: its relevant set would
#: be larger than the 20 hits recall@20 looks at (and a reader would add a word).
MAX_RELEVANT = 20
HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
ALL_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\s·・]+")
HAN_WORD = re.compile(r"^[\u3400-\u9fff]{2,}$")
LATIN_WORD = re.compile(r"[a-z]{4,}")
#: Words too general to make a topic with (Chinese: "research", "question", "book", "collection"…).
ZH_STOP = {"研究", "问题", "丛书", "文集", "全集", "选集", "论文", "概论", "一个", "我们", "他们", "以及", "关于",
           "第一", "上册", "下册", "中册", "出版", "出版社", "有限公司", "公司", "编辑", "编著", "主编"}
EN_STOP = {"with", "from", "that", "this", "their", "there", "what", "which", "when", "where", "into", "other",
           "about", "some", "were", "have", "more", "after", "before", "under", "over", "also", "than", "between",
           "through", "during", "against", "among", "edition", "volume", "series", "history", "works", "selected",
           "introduction", "pictorial", "juvenile", "literature", "fiction", "social", "conditions", "description",
           "travel", "criticism", "interpretation", "congresses", "sources", "biography", "study", "studies"}
_S2T = opencc.OpenCC("s2t")
_T2S = opencc.OpenCC("t2s")


@dataclass
class Rec:
    key: str  # member:local_id
    title: str
    han_title: str  # folded, no spaces ('' when the title has no Han)
    romanised: str | None  # the record's own romanised title (MARC 21 245 beside an 880), folded
    han_fields: dict[str, str]  # where -> folded Han text without spaces
    words: dict[str, set[str]]  # where -> folded Latin words
    authors: list[str]
    isbns: list[str]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


def _text(*values: Any) -> str:
    parts: list[str] = []
    for value in values:
        if isinstance(value, list | tuple):
            parts.extend(str(v) for v in value if v)
        elif value:
            parts.append(str(value))
    return fold(" ".join(parts))


def han_compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def to_rec(key: str, doc: dict[str, Any]) -> Rec:
    where = {
        "title": _text(doc.get("title"), doc.get("subtitle"), doc.get("part")),
        "subject": _text(doc.get("subjects")),
        "author": _text(doc.get("authors"), doc.get("responsibility")),
        "other": _text(doc.get("series"), doc.get("notes"), doc.get("publisher"), doc.get("parallel_titles")),
    }
    title = doc.get("title") or ""
    han_title = han_compact(fold(title)) if has_han(title) else ""
    romanised = next((fold(t) for t in doc.get("parallel_titles") or [] if t and not has_han(t)), None)
    return Rec(
        key=key,
        title=title,
        han_title=han_title,
        romanised=romanised if han_title else None,
        han_fields={k: han_compact(v) for k, v in where.items() if has_han(v)},
        words={k: set(LATIN_WORD.findall(v)) for k, v in where.items()},
        authors=[a for a in doc.get("authors") or [] if a],
        isbns=list(doc.get("isbns") or []),
        raw=doc,
    )


def load_records(services: Any) -> list[Rec]:
    with services.db() as session:
        rows = session.execute(
            select(SourceRecord.member_code, SourceRecord.local_id, SourceRecord.document)
            .where(~SourceRecord.deleted, SourceRecord.document.is_not(None))
            .order_by(SourceRecord.member_code, SourceRecord.local_id)
        ).all()
    return [to_rec(f"{m}:{lid}", doc) for m, lid, doc in rows]


# ---------------------------------------------------------------------------------------------
# relevance rules


def han_grade(rec: Rec, words: list[str]) -> int:
    """2: every word in the title; 1: every word somewhere in title, subjects, authors, series,
    notes, publisher; 0 otherwise."""
    if not rec.han_fields:
        return 0
    if all(w in rec.han_fields.get("title", "") for w in words):
        return 2
    every = "|".join(rec.han_fields.values())
    return 1 if all(w in every for w in words) else 0


def latin_grade(rec: Rec, words: list[str]) -> int:
    """2: both words in the title, or both in the subject headings; 1: both in the record's
    title, subjects, series and notes together; 0 otherwise."""
    for where in ("title", "subject"):
        if all(w in rec.words[where] for w in words):
            return 2
    every = rec.words["title"] | rec.words["subject"] | rec.words["other"]
    return 1 if all(w in every for w in words) else 0


def relevant(records: Iterable[Rec], grade: Callable[[Rec], int]) -> dict[str, int]:
    return {r.key: g for r in records if (g := grade(r))}


# ---------------------------------------------------------------------------------------------
# query makers: each returns (query, {record key: grade}) or None for a record that cannot seed one


def han_words(title: str) -> list[str]:
    words = [w for w in jieba.lcut(title, HMM=False) if HAN_WORD.match(w) and w not in ZH_STOP]
    return list(dict.fromkeys(words))


def zh_topical(rec: Rec, pool: list[Rec], rng: random.Random) -> tuple[str, dict[str, int]] | None:
    words = han_words(rec.han_title)
    if len(words) < 2:
        return None
    n = 3 if len(words) >= 4 and rng.random() < 0.25 else 2
    chosen = rng.sample(words, n)
    query = "".join(chosen)
    if query in rec.han_title:  # words standing together in the title: a phrase, not a topic
        return None
    judged = relevant(pool, lambda r: han_grade(r, chosen))
    return (query, judged) if len(judged) <= MAX_RELEVANT else None


def zh_traditional(rec: Rec, pool: list[Rec], rng: random.Random) -> tuple[str, dict[str, int]] | None:
    """A topical query typed in Traditional characters, from a record catalogued in Simplified."""
    if _T2S.convert(rec.title) != rec.title:
        return None
    made = zh_topical(rec, pool, rng)
    if not made:
        return None
    query = _S2T.convert(made[0])
    return (query, made[1]) if query != made[0] else None


def zh_known(rec: Rec, pool: list[Rec], rng: random.Random) -> tuple[str, dict[str, int]] | None:
    """The title proper as the reader copies it (no word spaces); 2: same title, 1: title
    containing it (other parts, longer titles)."""
    if len(rec.han_title) < 3 or not ALL_HAN.fullmatch(rec.title):
        return None
    query = han_compact(rec.title)
    judged = relevant(pool, lambda r: 2 if r.han_title == rec.han_title else 1 if rec.han_title in r.han_title else 0)
    return (query, judged) if len(judged) <= MAX_RELEVANT else None


def pinyin_forms(rec: Rec) -> list[str]:
    """The title proper in pinyin: as the cataloguer romanised it (MARC 21 245 beside the Han 880)
    when its letters are pypinyin's reading of the Han title too (so it is the title proper, read
    alike by both), or pypinyin's reading for a record without romanisation (CNMARC); then the
    same without spaces and with tone marks. ``[]`` when cataloguer and pypinyin disagree."""
    made = " ".join(s for s in lazy_pinyin(rec.han_title, style=Style.NORMAL) if re.fullmatch(r"[a-z]+", s))
    if not made:
        return []
    if rec.romanised is not None:
        base = " ".join(re.findall(r"[a-z]+", rec.romanised))
        if base.replace(" ", "") != made.replace(" ", ""):
            return []
    else:
        base = made
    toned = " ".join(s for s in lazy_pinyin(rec.han_title, style=Style.TONE) if s.strip() and not has_han(s))
    return [base, base.replace(" ", ""), toned]


def pinyin(rec: Rec, pool: list[Rec], rng: random.Random) -> tuple[str, dict[str, int]] | None:
    if len(rec.han_title) < 3 or len(rec.han_title) > 12:
        return None
    forms = pinyin_forms(rec)
    if not forms:
        return None
    query = forms[rng.randrange(len(forms))]
    judged = relevant(pool, lambda r: 2 if r.han_title == rec.han_title else 0)
    return (query, judged) if len(judged) <= MAX_RELEVANT else None


def latin_topical(rec: Rec, pool: list[Rec], rng: random.Random, index: dict[str, set[int]] | None = None
                  ) -> tuple[str, dict[str, int]] | None:
    if rec.han_title:
        return None
    words = sorted((rec.words["title"] | rec.words["subject"]) - EN_STOP)
    if len(words) < 2:
        return None
    chosen = rng.sample(words, 2)
    candidates = pool if index is None else [pool[i] for i in index[chosen[0]] & index[chosen[1]]]
    judged = relevant(candidates, lambda r: latin_grade(r, chosen))
    return (" ".join(chosen), judged) if len(judged) <= MAX_RELEVANT else None


_FULLER = re.compile(r"\s*\([^)]*\)")
_DATES = re.compile(r",?\s*[\(\[]?\d{3,4}\??-?(\d{3,4})?\??[\)\]]?\.?$")


def author_name(name: str) -> str:
    """``Austen, Jane, 1775-1817`` → ``austen, jane`` (folded, dates off), the identity used for
    relevance."""
    return fold(_DATES.sub("", _FULLER.sub("", name))).strip(" ,.")


def author(rec: Rec, pool: list[Rec], rng: random.Random, by_name: dict[str, list[int]] | None = None
           ) -> tuple[str, dict[str, int]] | None:
    if not rec.authors:
        return None
    name = author_name(rec.authors[0])
    if has_han(name):
        query = han_compact(name)
    else:
        parts = [p.strip() for p in name.split(",")]
        if len(parts) < 2 or not parts[0] or not parts[1] or len(parts[0]) < 3:
            return None
        query = f"{parts[1]} {parts[0]}".replace(".", " ")  # as a reader types it: forename first
    candidates = pool if by_name is None else [pool[i] for i in by_name.get(name, [])]
    judged = {}
    for r in candidates:
        names = [author_name(a) for a in r.authors]
        if name in names:
            judged[r.key] = 2 if names[0] == name else 1
    return (query, judged) if judged and len(judged) <= MAX_RELEVANT else None


def isbn(rec: Rec, pool: list[Rec], rng: random.Random, by_isbn: dict[str, list[int]] | None = None
         ) -> tuple[str, dict[str, int]] | None:
    valid = [i for i in rec.isbns if isbnlib.is_isbn13(i)]
    if not valid:
        return None
    chosen = valid[0]
    ten = isbnlib.to_isbn10(chosen) if chosen.startswith("978") else None
    forms = [isbnlib.mask(chosen) or chosen, chosen, " ".join([chosen[:3], chosen[3:]]),
             chosen.translate({ord(c): 0xFF10 + int(c) for c in "0123456789"})]
    if ten:
        forms += [ten, isbnlib.mask(ten) or ten]
    query = forms[rng.randrange(len(forms))]
    candidates = pool if by_isbn is None else [pool[i] for i in by_isbn.get(chosen, [])]
    return query, {r.key: 2 for r in candidates if chosen in r.isbns}


CATEGORIES: dict[str, Callable[..., tuple[str, dict[str, int]] | None]] = {
    "zh_topical": zh_topical,
    "zh_known": zh_known,
    "zh_traditional": zh_traditional,
    "pinyin": pinyin,
    "latin_topical": latin_topical,
    "author": author,
    "isbn": isbn,
}

#: Queries per category: (demo, lc).
TARGETS = {"zh_topical": (30, 60), "zh_known": (25, 50), "zh_traditional": (20, 40), "pinyin": (25, 50),
           "latin_topical": (30, 60), "author": (25, 50), "isbn": (20, 40)}


@dataclass
class Pools:
    all: list[Rec]
    han: list[Rec]
    words: dict[str, set[int]]
    names: dict[str, list[int]]
    isbns: dict[str, list[int]]


def pools(records: list[Rec]) -> Pools:
    words: dict[str, set[int]] = defaultdict(set)
    names: dict[str, list[int]] = defaultdict(list)
    isbns: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        for w in r.words["title"] | r.words["subject"] | r.words["other"]:
            words[w].add(i)
        for a in {author_name(a) for a in r.authors}:
            names[a].append(i)
        for n in r.isbns:
            isbns[n].append(i)
    # Chinese queries come from, and are judged on, Chinese-language records: a Japanese title in
    # kanji is no Chinese topic, and its romanisation (Hepburn) is no pinyin.
    chinese = [r for r in records if r.han_fields and "chi" in (r.raw.get("languages") or [])]
    return Pools(records, chinese, words, names, isbns)


def make(category: str, rec: Rec, p: Pools, rng: random.Random) -> tuple[str, dict[str, int]] | None:
    maker = CATEGORIES[category]
    if category == "latin_topical":
        return maker(rec, p.all, rng, p.words)
    if category == "author":
        return maker(rec, p.all, rng, p.names)
    if category == "isbn":
        return maker(rec, p.all, rng, p.isbns)
    return maker(rec, p.han, rng)


def build(records: list[Rec], which: int) -> list[tuple[str, str, str, dict[str, int]]]:
    """[(qid, category, query, {record key: grade})] for every category."""
    p = pools(records)
    out: list[tuple[str, str, str, dict[str, int]]] = []
    for category, targets in TARGETS.items():
        rng = random.Random(f"{SEED}-{category}")
        seeds = list(p.han if category.startswith(("zh", "pinyin")) else p.all)
        rng.shuffle(seeds)
        seen: set[str] = set()
        for rec in seeds:
            if sum(1 for q in out if q[1] == category) >= targets[which]:
                break
            made = make(category, rec, p, rng)
            if made is None or not made[1] or fold(made[0]) in seen:
                continue
            seen.add(fold(made[0]))
            out.append((f"{category}-{len(seen):03d}", category, made[0], made[1]))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=["demo", "lc"])
    ap.add_argument("--records", type=int, default=100_000, help="LC records (lc only)")
    args = ap.parse_args(argv)
    with es_node(work_dir(args.name)) as es_url:
        services, _ = catalogue(args.name, es_url, records=args.records)
        records = load_records(services)
        services.close()
    queries = build(records, 0 if args.name == "demo" else 1)
    write_set(OUT / f"{args.name}.queries.tsv", OUT / f"{args.name}.qrels", queries)
    by_cat: dict[str, int] = defaultdict(int)
    for _, cat, _, _ in queries:
        by_cat[cat] += 1
    print(f"{len(records)} records, {len(queries)} queries: {dict(by_cat)}")


if __name__ == "__main__":
    main()
