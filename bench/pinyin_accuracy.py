"""How often pypinyin reads a Chinese character as the cataloguer did (issue 13).
Run: ``python -m bench.pinyin_accuracy [--write]``.

Gold: the LC Chinese records (``lc-booksall-2016-part01-chinese.mrc.gz``) carry each title twice,
romanised by LC cataloguers in ALA-LC pinyin (245) and in Chinese script (its 880 partner). For
every title whose vernacular form holds Han characters and nothing Latin, each Han character's
gold reading is recovered by aligning its possible readings (all of pypinyin's heteronyms) with
the romanised letters (dynamic programming over the letter string, spaces and punctuation
ignored); a title the alignment cannot explain (a different convention, a typo, a character
pypinyin has no reading for) is left out and counted. Each character's indexed reading
(:func:`mappings.analysis.pinyin_syllables`, pypinyin with its phrase dictionary) is then compared
with the gold reading, toneless; a character counts as polyphonic when pypinyin knows more than
one toneless reading for it. The baseline reads every character alone (no phrase dictionary).
"""

from __future__ import annotations

import argparse
import gzip
import re
from functools import cache

import pymarc

from bench.cjk_analysis import HEADING
from bench.common import shared_data, stamp, write_section
from mappings.analysis import pinyin_syllables
from mappings.textnorm import fold

_HAN = re.compile(r"[\u3400-\u9fff]")


@cache
def readings(char: str) -> tuple[str, ...]:
    from pypinyin import Style, pinyin

    found = pinyin(char, style=Style.NORMAL, heteronym=True, errors="ignore")
    return tuple(dict.fromkeys(r.replace("v", "u") for r in (found[0] if found else [])))


def align(chars: list[str], letters: str) -> list[str] | None:
    """The reading of each character that spells ``letters`` exactly (the first such, by DP)."""
    n = len(chars)
    # reach[i] = set of letter offsets reachable after reading i characters, with back-pointers
    back: list[dict[int, tuple[int, str]]] = [{0: (-1, "")}] + [{} for _ in range(n)]
    for i, char in enumerate(chars):
        for offset in back[i]:
            for reading in readings(char):
                if letters.startswith(reading, offset):
                    back[i + 1].setdefault(offset + len(reading), (offset, reading))
        if not back[i + 1]:
            return None
    if len(letters) not in back[n]:
        return None
    out, offset = [], len(letters)
    for i in range(n, 0, -1):
        prev, reading = back[i][offset]
        out.append(reading)
        offset = prev
    return out[::-1]


def title_pairs() -> list[tuple[str, str]]:
    pairs = []
    with gzip.open(shared_data() / "marc21" / "lc-booksall-2016-part01-chinese.mrc.gz") as fh:
        for record in pymarc.MARCReader(fh, to_unicode=True, force_utf8=True, utf8_handling="replace"):
            if record is None or not record.get_fields("245"):
                continue
            roman = record.get_fields("245")[0]
            vern = next((f for f in record.get_fields("880") if (f.get("6") or "").startswith("245")), None)
            if vern is None:
                continue
            pick = lambda f: " ".join(f.get_subfields("a", "b"))  # noqa: E731
            pairs.append((pick(roman), pick(vern)))
    return pairs


def measure() -> dict[str, float]:
    from pypinyin import Style, lazy_pinyin

    stats = {"titles": 0, "aligned": 0, "chars": 0, "right": 0, "poly": 0, "poly_right": 0, "base_poly_right": 0,
             "base_right": 0, "de": 0, "de_right": 0, "de_base": 0}
    for roman, vern in title_pairs():
        stats["titles"] += 1
        folded = fold(vern)
        if re.search(r"[a-z]", folded):
            continue
        chars = _HAN.findall(folded)
        letters = re.sub(r"[^a-z]", "", fold(roman))
        gold = align(chars, letters) if chars else None
        if gold is None:
            continue
        ours = pinyin_syllables(folded)
        if len(ours) != len(chars):
            continue
        stats["aligned"] += 1
        alone = [(lazy_pinyin(c, style=Style.NORMAL) or [""])[0].replace("v", "u") for c in chars]
        for char, want, got, base in zip(chars, gold, ours, alone, strict=True):
            stats["chars"] += 1
            stats["right"] += got == want
            stats["base_right"] += base == want
            if char == "的":  # LC's older practice romanises it "di"; readers type "de"
                stats["de"] += 1
                stats["de_right"] += got == want
                stats["de_base"] += base == want
            if len(readings(char)) > 1:
                stats["poly"] += 1
                stats["poly_right"] += got == want
                stats["base_poly_right"] += base == want
    return stats


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    s = measure()
    text = "\n".join([
        f"{stamp()}; gold readings from LC's own romanisation of {s['aligned']:,} titles "
        f"(of {s['titles']:,} with an 880 title; the rest held Latin letters or could not be aligned), "
        "method in `bench/pinyin_accuracy.py`.",
        "",
        "| characters | n | right, as indexed (phrase dictionary) | right, each character alone |",
        "|---|---|---|---|",
        f"| all Han characters | {s['chars']:,} | {s['right'] / s['chars']:.4f} | {s['base_right'] / s['chars']:.4f} |",
        f"| polyphonic (2+ toneless readings) | {s['poly']:,} | {s['poly_right'] / s['poly']:.4f} | "
        f"{s['base_poly_right'] / s['poly']:.4f} |",
        f"| polyphonic, without 的 | {s['poly'] - s['de']:,} | "
        f"{(s['poly_right'] - s['de_right']) / (s['poly'] - s['de']):.4f} | "
        f"{(s['base_poly_right'] - s['de_base']) / (s['poly'] - s['de']):.4f} |",
        "",
        "Most misses are 的 (gold `di`: LC's older romanisation practice, where pypinyin and readers say `de`), "
        "then 传 in 传 = biography (`zhuan`), 佛 `fo`, 藏 `zang`, 长, 行. A reader typing the other reading of "
        "such a character misses that record by pinyin; the characters themselves always find it.",
    ])
    print(text)
    if args.write:
        write_section("Pinyin readings: measured", text, heading=HEADING)


if __name__ == "__main__":
    main()
