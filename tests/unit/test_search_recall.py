"""bench/search_recall.py: recall of search against known text, on page texts constructed here."""

from __future__ import annotations

import json
from pathlib import Path

from bench.search_recall import demo_known_text, main, measure_recall
from manifests.search_index import SearchIndex, write_index
from tests.unit.test_search_query import page

KNOWN = {"decree": ["Quốc khánh nước Việt Nam", "Độc lập Tự do"], "letter": ["Kính gửi đồng bào"]}
# What OCR might have read: "khánh" lost its accent, "đồng" became "dồng", page 2 of the decree is blank.
READ = {"decree": [page("Quốc khanh nước Việt Nam"), None], "letter": [page("Kính gửi dồng bào")]}


def test_recall_counts_each_distinct_word_with_and_without_diacritics(tmp_path: Path) -> None:
    recall = measure_recall(SearchIndex(write_index(READ, tmp_path)), KNOWN)
    # 5 + 4 words in the decree, 4 in the letter.
    assert recall.words == 13
    # Search folds diacritics, so "khánh" and "đồng" are found despite the misread accents, both ways;
    # the words of the page OCR left empty are not.
    assert recall.found_as_written == recall.found_without_diacritics == 9
    assert recall.missed == ("decree: do", "decree: lập", "decree: tự", "decree: độc")


def test_a_word_found_only_on_another_page_is_not_found(tmp_path: Path) -> None:
    index = SearchIndex(write_index({"decree": [page("Việt Nam"), page("Độc lập")]}, tmp_path))
    recall = measure_recall(index, {"decree": ["Độc lập", "Việt Nam"]})
    assert (recall.found_as_written, recall.found_without_diacritics) == (0, 0)


def test_the_command_reads_a_folder_and_known_text_and_exits_by_the_target(tmp_path: Path, capsys) -> None:
    write_index(READ, tmp_path)
    known = tmp_path / "known.json"
    known.write_text(json.dumps(KNOWN, ensure_ascii=False), encoding="utf-8")
    assert main([str(tmp_path), "--known", str(known)]) == 1
    assert "13 distinct words: recall 69.2% as written, 69.2% without diacritics" in capsys.readouterr().out
    known.write_text(json.dumps({"letter": ["Kính gửi"]}, ensure_ascii=False), encoding="utf-8")
    assert main([str(tmp_path), "--known", str(known)]) == 0
    assert main([str(tmp_path / "missing")]) == 2


def test_the_demo_text_is_the_decree_and_letter_pages_without_markup() -> None:
    known = demo_known_text()
    assert len(known["decree-1945"]) == 4 and len(known["letter-1946"]) == 2
    assert known["decree-1945"][0].startswith("VIỆT NAM DÂN CHỦ CỘNG HOÀ\nĐộc lập - Tự do - Hạnh phúc")
    assert "SẮC LỆNH SỐ 14" in known["decree-1945"][0] and "<" not in "".join(known["decree-1945"])
    assert "Hà Nội, ngày 8 tháng 9 năm 1945" in known["decree-1945"][3]
