"""Match keys and merge vetoes."""

from __future__ import annotations

from dataclasses import replace

from mappings import BibDocument, compatible, crosswalk, match_keys
from tests.mappings.golden import split_records


def _book(**fields: object) -> BibDocument:
    return BibDocument(source_format="marc21", **fields)  # type: ignore[arg-type]


def test_weak_key_ignores_case_article_ampersand_and_punctuation() -> None:
    a = _book(title="Pride and Prejudice", authors=["Austen, Jane, 1775-1817"], year=1813)
    b = _book(title="pride & prejudice.", authors=["AUSTEN, JANE"], year=1813)
    assert match_keys(a).weak == match_keys(b).weak == "w:pride prejudice|austen|1813|"
    c = _book(title="The pride and prejudice", title_nonfiling=4, authors=["Austen, Jane"], year=1813)
    assert match_keys(c).weak == match_keys(a).weak


def test_volumes_get_different_keys_and_never_merge() -> None:
    one = match_keys(_book(title="红楼梦", part="第一卷", authors=["曹雪芹"], year=1982, isbns=["9787020002207"]))
    two = match_keys(_book(title="红楼梦", part="第二卷", authors=["曹雪芹"], year=1982, isbns=["9787020002207"]))
    assert one.part == "1" and two.part == "2"
    assert one.weak != two.weak
    assert set(one.strong) == set(two.strong)  # the set ISBN is shared ...
    assert not compatible(one, two, strong=True)  # ... but volume 1 never merges with volume 2
    vol = match_keys(_book(title="Collected papers", part="Vol. 2", year=1990))
    assert vol.part == match_keys(_book(title="Collected papers", part="Volume II", year=1990)).part == "2"


def test_isbn10_and_its_isbn13_give_the_same_strong_key() -> None:
    doc10 = crosswalk(_marcxml("020", "a", "7-02-000220-X"), "xml")
    doc13 = crosswalk(_marcxml("020", "a", "978-7-02-000220-7 (pbk.)"), "xml")
    assert match_keys(doc10).strong == match_keys(doc13).strong == ("isbn:9787020002207",)


def test_isbn_normalisation_agrees_with_isbnlib_on_real_and_edge_cases() -> None:
    """The crosswalk checks ISBNs with python-stdnum; isbnlib is an independent reference, on the
    first word of every 020 of a real catalogue and on edge cases."""
    import isbnlib

    from mappings._common import normalise_isbn
    from tests.core.helpers import DEMO, read_marc

    def reference(token: str) -> str | None:
        canon = isbnlib.canonical(token)
        if len(canon) == 10 and isbnlib.is_isbn10(canon):
            return isbnlib.to_isbn13(canon) or None
        return canon if len(canon) == 13 and isbnlib.is_isbn13(canon) else None

    tokens = ["7-02-000220-X", "7-02-000220-x", "7-02-000220-1", "978-7-02-000220-7", "979-10-90636-07-1",
              "9791090636072", "9771234567003", "0000000000", "000000000X", "12345678X9", "0306406152",
              "030640615X", "97803064061570", "", "isbn 0-306-40615-2"]
    for record in read_marc(DEMO / "pku" / "uva-sirsi.mrc.gz"):
        tokens += [value.split(" ")[0] for field in record.get_fields("020") for value in field.get_subfields("a", "z")]
    assert len(tokens) > 500
    assert [normalise_isbn(t) for t in tokens] == [reference(t) for t in tokens]
    assert normalise_isbn("7-02-000220-X") == "9787020002207" and normalise_isbn("7-02-000220-1") is None


def test_malformed_isbn_yields_no_key() -> None:
    doc = crosswalk(_marcxml("020", "a", "7-02-000220-1"), "xml")  # wrong check digit
    assert doc.isbns == [] and doc.invalid_isbns == ["7-02-000220-1"]
    assert match_keys(doc).strong == ()


def test_chinese_title_not_split_on_spaces_and_author_kept() -> None:
    doc = _book(title="紅樓夢 脂評本 校注 彙編 全本", authors=["曹雪芹, 1715?-1763"], year=1982)
    keys = match_keys(doc)
    assert keys.weak == "w:红楼梦脂评本校注汇编全本|曹雪芹|1982|"
    same = _book(title="红楼梦脂评本校注汇编全本", authors=["(清)曹雪芹"], year=1982)
    assert match_keys(same).weak == keys.weak


def test_lc_romanised_record_and_cnmarc_record_share_weak_key() -> None:
    [taiwan] = split_records("unimarc-pride-and-prejudice-taiwan.mrc")
    doc = crosswalk(*taiwan)
    assert match_keys(doc).weak == "w:傲慢与偏见|奥斯丁|1993|"
    simplified = _book(title="傲慢与偏见", authors=["奥斯丁"], year=1993)
    assert match_keys(simplified).weak == match_keys(doc).weak


def test_generic_title_without_author_has_no_weak_key() -> None:
    assert match_keys(_book(title="Works", year=1990)).weak is None
    assert match_keys(_book(title="Works", authors=["Shakespeare, William"], year=1990)).weak
    assert match_keys(_book(title="")).weak is None


def test_weak_merge_vetoes() -> None:
    base = match_keys(_book(title="Emma", authors=["Austen, Jane"], year=2003, pages=400, isbns=["9780141439587"]))
    assert compatible(base, base, strong=False)
    assert not compatible(base, replace(base, year=2004), strong=False)
    assert not compatible(base, replace(base, year=2004), strong=True), "a reprint keeps its ISBN, not its year"
    assert not compatible(base, replace(base, isbns=frozenset({"9780199535552"})), strong=False)
    assert not compatible(base, replace(base, pages=420), strong=False)
    assert compatible(base, replace(base, pages=405), strong=False)
    assert not compatible(base, replace(base, format="eresource"), strong=True)
    nature, science = replace(base, issns=frozenset({"0028-0836"})), replace(base, issns=frozenset({"0036-8075"}))
    assert not compatible(nature, science, strong=False)


def _marcxml(tag: str, code: str, value: str) -> bytes:
    return (
        '<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam a2200000 a 4500</leader>'
        f'<datafield tag="{tag}" ind1=" " ind2=" "><subfield code="{code}">{value}</subfield></datafield>'
        '<datafield tag="245" ind1="0" ind2="0"><subfield code="a">红楼梦</subfield></datafield></record>'
    ).encode()


def test_a_shared_number_does_not_merge_unrelated_books() -> None:
    """Cases from the labelled evaluation (bench/dedup_labels): series ISBNs, reused OCLC numbers."""
    chocolate = match_keys(_book(title="Chocolate", subtitle="exploit the versatility, aroma and taste",
                                 authors=["Donovan, Jane"], year=1999, pages=80, isbns=["9780809223282"]))
    egg = match_keys(_book(title="Egg", subtitle="exploit the versatility, aroma and taste",
                           authors=["Donovan, Jane"], year=1999, pages=80, isbns=["9780809223282"]))
    assert not compatible(chocolate, egg, strong=True)
    walters = match_keys(_book(title="Reader's theater", authors=["Walters, Connie"], year=1998, pages=64))
    donahoe = match_keys(_book(title="Reader's theater", authors=["Donahoe, Sydney L."], year=1998, pages=64))
    assert not compatible(walters, donahoe, strong=True)
    second = match_keys(_book(title="Carl Nielsen", authors=["Eskildsen, Karsten"], year=1999, edition="2. opl."))
    first = match_keys(_book(title="Carl Nielsen", authors=["Eskildsen, Karsten"], year=1999, edition="1. opl."))
    assert not compatible(first, second, strong=True)
    with_subtitle = match_keys(_book(title="Pride and prejudice", subtitle="a novel", authors=["Austen, Jane"],
                                     year=1993, pages=320))
    plain = match_keys(_book(title="Pride & prejudice", authors=["Austen, Jane, 1775-1817"], year=1993, pages=321))
    assert compatible(with_subtitle, plain, strong=True)
    han = match_keys(_book(title="紅樓夢", authors=["曹雪芹"], year=1982))
    latin = match_keys(_book(title="Hong lou meng", authors=["Cao, Xueqin"], year=1982))
    assert compatible(han, latin, strong=True), "different scripts are no evidence against a shared number"


def test_translations_and_copied_control_numbers_do_not_merge() -> None:
    """Cases from the labelled evaluation: an English and a Danish edition sharing one OCLC number,
    an English translation and the Spanish original sharing one ISBN, and a reissue that copied the
    original's LCCN while carrying ISBNs of its own."""
    english = match_keys(_book(title="Carl Nielsen", authors=["Eskildsen, Karsten"], year=1999, pages=95,
                               languages=["eng"], oclc=["43593786"], isbns=["9788778384997"]))
    danish = replace(english, language="dan", isbns=frozenset({"9788778384980"}),
                     strong=("isbn:9788778384980", "oclc:43593786"))
    assert not compatible(english, danish, strong=True)
    assert not compatible(english, replace(english, language="spa"), strong=False)
    assert compatible(english, replace(english, language=None), strong=True), "an unknown language is no evidence"
    chinese = match_keys(_book(title="红楼梦", authors=["曹雪芹"], year=1982, pages=1606, languages=["zho"]))
    traditional = match_keys(_book(title="紅樓夢", authors=["曹雪芹"], year=1982, pages=1606, languages=["chi"]))
    assert compatible(chinese, traditional, strong=False), "ISO 639-2/T and /B codes name one language"
    avenel = match_keys(_book(title="Jane Austen, her complete novels", authors=["Austen, Jane"], year=1981,
                              pages=1103, lccn=["81010777"], isbns=["0517347997", "0517351749"]))
    gramercy = match_keys(_book(title="The complete novels", authors=["Austen, Jane"], year=1981, pages=1103,
                                lccn=["81010777"], isbns=["0517147688"]))
    assert not compatible(avenel, gramercy, strong=True)
    hardback = match_keys(_book(title="Emma", authors=["Austen, Jane"], year=1816, isbns=["9780141439587"]))
    both = match_keys(_book(title="Emma", authors=["Austen, Jane"], year=1816,
                            isbns=["9780141439587", "9780199535552"]))
    paperback = match_keys(_book(title="Emma", authors=["Austen, Jane"], year=1816, isbns=["9780199535552"]))
    assert compatible(hardback, paperback, strong=True), "linked through a record carrying both ISBNs"
    assert compatible(hardback, both, strong=True) and compatible(both, paperback, strong=True)


def test_weak_merges_need_the_whole_title_subtitle_author_and_publisher_to_agree() -> None:
    """Cases from reviewing every merge over 250,000 LC records: series of reports whose titles
    differ after the weak key's first words or in the subtitle, and namesakes from other publishers."""
    def keys(**fields: object) -> object:
        return match_keys(_book(**{"year": 2000, "pages": 120, **fields}))

    berry = keys(title="A children's book about being lazy", authors=["Berry, Joy Wilt"])
    assert not compatible(berry, keys(title="A children's book about being forgetful", authors=["Berry, Joy Wilt"]),
                          strong=False)
    racing = keys(title="Sunset review", subtitle="evaluation of the State Racing Commission", authors=["Maryland"])
    athletic = keys(title="Sunset review", subtitle="evaluation of the State Athletic Commission", authors=["Maryland"])
    assert not compatible(racing, athletic, strong=False)
    assert compatible(racing, keys(title="Sunset review", authors=["Maryland"]), strong=False), "no subtitle: no veto"
    nzila = keys(title="O último voo do flamingo", authors=["Couto, Mia"], publisher="Editorial Nzila")
    assert not compatible(nzila, keys(title="O ultimo voo do flamingo", authors=["Couto, Mia"], publisher="Caminho"),
                          strong=False)
    gao = keys(title="Draft environmental impact statement", authors=["United States. Bureau of Reclamation"])
    nps = keys(title="Draft environmental impact statement", authors=["United States. National Park Service"])
    assert not compatible(gao, nps, strong=False)
    fishes = keys(title="Red book of threatened fishes of Bangladesh", authors=["Khan, S. M. Munjurul Hannan"],
                  isbns=["9789847460048"])
    birds = keys(title="Red book of threatened birds of Bangladesh", authors=["Khan, M. Anisuzzaman"],
                 isbns=["9789847460048"])
    assert not compatible(fishes, birds, strong=True)


def test_sets_and_old_imprints_need_more_than_title_and_year() -> None:
    one = match_keys(_book(title="Italian Gothic sculpture", authors=["Pope-Hennessy, John"], year=2000,
                           extent="288 p. : ill.", pages=288, isbns=["9780714838816"]))
    whole = match_keys(_book(title="An introduction to Italian sculpture", authors=["Pope-Hennessy, John"],
                             year=2000, extent="3 v. : ill.", isbns=["9780714838816"]))
    assert not compatible(one, whole, strong=True), "a set and one of its volumes"
    london = match_keys(_book(title="The history of America", authors=["Robertson, William"], year=1777,
                              publisher="W. Strahan [etc.]", extent="2 v. pl."))
    dublin = match_keys(_book(title="The history of America", authors=["Robertson, William"], year=1777,
                              publisher="Printed for Messrs. Whitestone [etc.]", extent="2 v. fronts."))
    assert not compatible(london, dublin, strong=False)
    assert compatible(london, replace(london), strong=False)
    hearing = match_keys(_book(title="In the matter of a public hearing on the dramatic price escalation of home "
                               "heating oil", authors=["New York (State). Legislature. Senate"], year=2000,
                               extent="1 v. (various pagings)"))
    assert not compatible(hearing, hearing, strong=False), "every hearing of the year looks like this"
    north, south = (match_keys(_book(title="Minority military service", part=f"{state}, 1775-1783", year=1996))
                    for state in ("North Carolina", "Virginia"))
    assert not compatible(north, south, strong=False)


def test_merge_rules_are_symmetric() -> None:
    """Clustering compares records in both orders; a rule that looked only at the first record's
    year let an undated record merge one way and not the other."""
    dated = match_keys(_book(title="Tales of the hills", authors=["Kipling, Rudyard"], year=1990, pages=200,
                             publisher="Macmillan"))
    undated = match_keys(_book(title="Tales of the hills", authors=["Kipling, Rudyard"], pages=200,
                               publisher="Macmillan"))
    for strong in (True, False):
        assert compatible(dated, undated, strong=strong) == compatible(undated, dated, strong=strong)
    assert not compatible(dated, undated, strong=False)


def test_rules_from_the_second_review_of_every_lc_merge() -> None:
    """Each case is a pair of real records (LC Books All 2016, part 1; UVA Sirsi) read by eye."""
    index = match_keys(
        _book(
            title="韓國 歷代 文集 叢書 目錄 索引",
            authors=["金 成煥, 1963-"],
            year=2000,
            extent="3 v. ; 23 cm.",
            isbns=["9788949900933", "9788949900971"],
        )
    )
    catalogue = match_keys(
        _book(
            title="韓國 歷代 文集 叢書 目錄",
            authors=["金 成煥, 1963-"],
            year=2000,
            extent="3 v. ; 23 cm.",
            isbns=["9788949900933", "9788949900940"],
        )
    )
    assert not compatible(index, catalogue, strong=True), "an index shares its catalogue's set ISBN"

    def souvenir(extent: str, pages: int) -> object:
        return match_keys(
            _book(
                title="Olga Nethersole",
                authors=["Gilbert, C. Allan"],
                year=1900,
                publisher="R. H. Russell",
                extent=extent,
                pages=pages,
            )
        )

    assert not compatible(souvenir("[16] p. : chiefly ill.", 16), souvenir("[14] p. of plates", 14), strong=False)
    assert compatible(souvenir("[16] p.", 16), souvenir("[16] p. : ill.", 16), strong=False)

    def rubruck(author: str) -> object:
        return match_keys(
            _book(
                title="The journey of William of Rubruck to the eastern parts of the world, 1253-55",
                authors=[author],
                year=1900,
                publisher="Printed for the Hakluyt Society",
                extent="lvi, 304 p.",
                pages=304,
            )
        )

    lc, uva = (
        rubruck("Ruysbroek, Willem van, active 13th century"),
        rubruck("Ruysbroeck, Willem van, approximately 1210-approximately 1270"),
    )
    assert lc.author_words == ("ruysbroek", "willem", "van")
    assert compatible(lc, uva, strong=False), "one person's heading in two spellings and date forms"
    assert not compatible(lc, rubruck("Ruysbroeck, Jan van, 1293-1381"), strong=False)
    assert not compatible(lc, rubruck("Rubens, Willem van"), strong=False)

    def october(publisher: str) -> object:
        return match_keys(
            _book(
                title="A visit to October House",
                authors=["Jones, E. Willis"],
                year=1952,
                publisher=publisher,
                extent="13 p., [3] leaves of plates",
                pages=13,
            )
        )

    issue_for_society, issue_for_friends = october("Society of Typographic Arts"), october("R.H.M. and E.W.J.")
    assert issue_for_friends.publisher_initials == "rhmewj"
    assert not compatible(issue_for_society, issue_for_friends, strong=False)
    assert compatible(october("U.S. G.P.O."), october("U.S. Government Printing Office"), strong=False)


def test_two_isbns_of_one_edition_merge_when_publisher_and_extent_agree() -> None:
    """Bantam's 1983 *Sense and sensibility* is catalogued under two ISBNs (Pride and Prejudice set)."""

    def bantam(isbn: str, extent: str, pages: int, publisher: str = "Bantam") -> object:
        return match_keys(
            _book(
                title="Sense and sensibility",
                authors=["Austen, Jane, 1775-1817"],
                year=1983,
                publisher=publisher,
                extent=extent,
                pages=pages,
                isbns=[isbn],
            )
        )

    one, other = bantam("9780553211108", "346p 18cm pbk", 346), bantam("9780553213348", "346 p. ; 18 cm", 346)
    assert compatible(one, other, strong=False)
    assert not compatible(one, bantam("9780553213348", "352 p. ; 18 cm", 352), strong=False), "another setting"
    assert not compatible(one, bantam("9780553213348", "346 p.", 346, publisher="Signet"), strong=False)

    def shapiro(isbn: str, subtitle: str | None) -> object:
        return match_keys(
            _book(
                title="Dr. Shapiro's picture perfect weight loss",
                subtitle=subtitle,
                authors=["Shapiro, Howard M., 1943-"],
                year=2000,
                publisher="Running Press",
                extent="95 p. : col. ill. ; 84 mm",
                pages=95,
                isbns=[isbn],
            )
        )

    desserts, general = shapiro("9780762409835", "desserts and snacks"), shapiro("9780762409828", None)
    assert not compatible(general, desserts, strong=False), "two miniature books told apart by their subtitles"


def test_one_text_issued_in_two_series_does_not_merge_on_the_weak_key() -> None:
    def indonesia(isbn: str, series: list[str]) -> object:
        return match_keys(
            _book(
                title="Indonesia",
                authors=["Lim, Robin, 1956-"],
                year=2001,
                publisher="Carolrhoda Books",
                extent="48 p. : col. ill.",
                pages=48,
                isbns=[isbn],
                series=series,
            )
        )

    globe = indonesia("9781575051508", ["Globe-trotters club", "Globe-trotters club (Series)"])
    assert globe.series_tokens == frozenset({"globe", "trotters", "club"})
    assert not compatible(globe, indonesia("9781575051751", ["A ticket to"]), strong=False)
    assert compatible(globe, indonesia("9781575051751", ["Globe-trotters club ; 3"]), strong=False)
    assert compatible(globe, indonesia("9781575051751", []), strong=False), "a series left out is no evidence"


def test_an_unknown_publisher_is_not_a_publisher_named_by_initials() -> None:
    def woodblock(publisher: str) -> object:
        return match_keys(_book(title="貝盡浦之錦", authors=["大枝流芳"], year=1751, publisher=publisher,
                                extent="2 v.", pages=None))
    assert woodblock("[s.n.]").publisher_initials == ""
    assert woodblock("須原屋茂兵衛 ... [and 3 others]").publisher_initials == ""
    assert compatible(woodblock("s.n."), woodblock("s.n."), strong=False) == compatible(
        woodblock(""), woodblock(""), strong=False)


def test_a_boxed_set_does_not_merge_with_the_book_it_holds() -> None:
    """LC 00504292 / 00504293: *C-3PO*, the boxed set with a collector figure lists the book's ISBN too."""
    boxed = crosswalk(_marcxml("020", "a", "081182487X (boxed set)"), "xml")
    assert boxed.package_isbns == ["9780811824873"]
    book = dict(title="C-3PO", subtitle="tales of the golden droid", authors=["Wallace, Daniel, 1970-"], year=1999,
                publisher="Chronicle Books", edition="Star Wars masterpiece ed.", extent="126 p.", pages=126)
    box = match_keys(_book(**book, isbns=["9780811824873", "9780811824866"], package_isbns=["9780811824873"]))
    alone = match_keys(_book(**book, isbns=["9780811824866"]))
    assert not compatible(box, alone, strong=True)
    assert compatible(box, replace(box), strong=True), "two records of the boxed set"
    qualified_in_q = crosswalk(_marcxml("020", "q", "kit"), "xml")
    assert qualified_in_q.package_isbns == [], "no ISBN in the field: nothing to mark"


def test_cnmarc_isbn_qualified_as_a_boxed_set_is_a_package() -> None:
    raw = (
        '<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam0 2200000   450 </leader>'
        '<datafield tag="010" ind1=" " ind2=" "><subfield code="a">978-7-02-000220-7</subfield>'
        '<subfield code="b">套装</subfield></datafield>'
        '<datafield tag="010" ind1=" " ind2=" "><subfield code="a">7-5037-1744-0</subfield>'
        '<subfield code="b">精装</subfield></datafield>'
        '<datafield tag="200" ind1="1" ind2=" "><subfield code="a">红楼梦</subfield></datafield></record>'
    ).encode()
    doc = crosswalk(raw, "xml", "unimarc")
    assert doc.package_isbns == ["9787020002207"], "the hardback (精装) is the book, not a package"
    assert len(doc.isbns) == 2


def _lc_record(fixed: str, fields: list[tuple[str, str, list[tuple[str, str]]]]) -> bytes:
    """MARCXML of a record made of the given 008 and data fields (tag, indicators, subfields)."""
    body = "".join(
        f'<datafield tag="{tag}" ind1="{ind[0]}" ind2="{ind[1]}">'
        + "".join(f'<subfield code="{code}">{value}</subfield>' for code, value in subs)
        + "</datafield>"
        for tag, ind, subs in fields
    )
    return (
        '<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000cam a2200000 a 4500</leader>'
        f'<controlfield tag="008">{fixed}</controlfield>{body}</record>'
    ).encode()


def test_vernacular_publishers_in_no_common_script_are_compared_by_their_romanisations() -> None:
    """LC 00505414 / 00509937: *地脈 의 抒情*, 1959, 117 p., from 人間社 (Inʼgansa) and from a
    marine corps office named in Hangul (Haebyŏngdae Saryŏngbu Chŏnghunʼgam Sil): two issues."""

    def chimaek(romanised: str, vernacular: str) -> object:
        return match_keys(crosswalk(_lc_record("000218s1959    ko a          000 0 kor d", [
            ("100", "1 ", [("6", "880-01"), ("a", "Chang, Kuk-chin.")]),
            ("245", "10", [("6", "880-02"), ("a", "Chimaek ŭi sŏjŏng :"), ("b", "sijip.")]),
            ("260", "  ", [("6", "880-03"), ("a", "[Korea] :"), ("b", romanised + ","), ("c", "[1959]")]),
            ("300", "  ", [("a", "117 p. ;"), ("c", "18 cm.")]),
            ("880", "1 ", [("6", "100-01/$1"), ("a", "張　國鎭.")]),
            ("880", "10", [("6", "245-02/$1"), ("a", "地脈　의　抒情 :"), ("b", "詩集.")]),
            ("880", "  ", [("6", "260-03/$1"), ("a", "[Korea] :"), ("b", vernacular + ","), ("c", "[1959]")]),
        ]), "xml"))

    ingansa = chimaek("Inʼgansa", "人間社")
    marines = chimaek("Haebyŏngdae Saryŏngbu Chŏnghunʼgam Sil", "해병대　사령부　정훈감　실")
    assert ingansa.weak == marines.weak
    assert not compatible(ingansa, marines, strong=False)
    assert compatible(ingansa, chimaek("Inʼgansa", "人間社"), strong=False), "the same issue twice"
    assert compatible(ingansa, chimaek("Inʼgansa", "인간사"), strong=False), "one name in Han, once in Hangul"


def test_a_set_issued_over_other_years_does_not_merge_on_the_weak_key() -> None:
    """LC 01028305 / 03004343: *Magnalia Christi americana*, Hartford, S. Andrus, 2 v.: 008 "s1853"
    and "m18531855" (the later issue's v. 1 is dated 1855)."""

    def magnalia(fixed: str, date: str) -> object:
        return match_keys(crosswalk(_lc_record(fixed, [
            ("100", "1 ", [("a", "Mather, Cotton,"), ("d", "1663-1728.")]),
            ("245", "10", [("a", "Magnalia Christi americana;"), ("b", "or, The ecclesiastical history")]),
            ("260", "  ", [("a", "Hartford,"), ("b", "S. Andrus &amp; son,"), ("c", date)]),
            ("300", "  ", [("a", "2 v.")]),
        ]), "xml"))

    single = magnalia("770304s1853    ctuc          000 0deng  ", "1853.")
    span = magnalia("770602m18531855ctuacj        001 0ceng  ", "1853-55 [v. 1, 1855]")
    assert (single.year, single.year_end, span.year, span.year_end) == (1853, 1853, 1853, 1855)
    assert not compatible(single, span, strong=False)
    assert compatible(single, magnalia("770304s1853    ctuc          000 0deng  ", "1853"), strong=False)
    still_open = magnalia("770602m18539999ctuacj        001 0ceng  ", "1853-")
    assert still_open.year_end is None and compatible(single, still_open, strong=False), "an open span says nothing"
    # A modern set: one library gives the first volume's year, another the span (Pride and Prejudice
    # gold set, *The novels of Jane Austen*, 3rd ed., Oxford, "1932" / "1932-1954").
    novels = dict(title="The novels of Jane Austen", authors=["Austen, Jane, 1775-1817"], year=1932,
                  publisher="Oxford University Press", edition="3rd ed.", extent="6 v.")
    first_year, span = match_keys(_book(**novels, year_end=1932)), match_keys(_book(**novels, year_end=1954))
    assert compatible(first_year, span, strong=False)
