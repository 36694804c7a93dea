import pytest

from services.intake.names import (
    MAX_PINYIN_KEYS,
    edit_ratio,
    levenshtein,
    matching_form,
    name_similarity,
    normalise_name,
    pinyin_keys,
    surname_of,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("陳小明", "陈小明"),
        ("張偉", "张伟"),
        ("劉德華", "刘德华"),
        ("歐陽鋒", "欧阳锋"),
        ("乾隆", "乾隆"),
    ],
)
def test_traditional_becomes_simplified(raw: str, expected: str) -> None:
    assert normalise_name(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["张　伟", " 张伟 ", "张 伟", "\u3000张\t伟\u3000", "张\u200b伟", "張 偉"],
)
def test_whitespace_of_every_kind_is_removed(raw: str) -> None:
    assert normalise_name(raw) == "张伟"


def test_full_width_letters_become_half_width() -> None:
    assert normalise_name("ＪＯＨＮ　ＳＭＩＴＨ") == "JOHNSMITH"
    assert matching_form("ＪＯＨＮ") == matching_form("john")


@pytest.mark.parametrize(
    "raw",
    [
        "买买提\u00b7艾力",
        "买买提\u30fb艾力",
        "买买提\uff65艾力",
        "买买提\u2022艾力",
        "买买提\u2027艾力",
        "买买提.艾力",
        "买买提 · 艾力",
        "买买提··艾力",
        "·买买提·艾力·",
    ],
)
def test_middle_dot_variants_become_one_dot(raw: str) -> None:
    assert normalise_name(raw) == "买买提·艾力"


def test_dot_presence_does_not_change_the_matching_form() -> None:
    assert matching_form("买买提·艾力") == matching_form("买买提艾力")
    assert name_similarity("买买提·艾力", "买买提艾力") == 1.0


@pytest.mark.parametrize(
    ("name", "reading"),
    [
        ("单伟", "shanwei"),
        ("曾明", "zengming"),
        ("解军", "xiejun"),
        ("区华", "ouhua"),
        ("仇英", "qiuying"),
        ("朴敏", "piaomin"),
        ("查良", "zhaliang"),
        ("盖军", "gejun"),
        ("华芳", "huafang"),
        ("乐平", "yueping"),
        ("秘强", "biqiang"),
        ("缪静", "miaojing"),
        ("覃丽", "qinli"),
        ("翟杰", "zhaijie"),
        ("尉迟恭", "yuchigong"),
        ("万俟卨", "moqixie"),
        ("长孙无忌", "zhangsunwuji"),
        ("单于明", "chanyuming"),
    ],
)
def test_surname_readings_are_included(name: str, reading: str) -> None:
    assert reading in pinyin_keys(name)


def test_default_readings_are_kept_too() -> None:
    assert {"danwei", "shanwei"} <= pinyin_keys("单伟")
    assert {"cengming", "zengming"} <= pinyin_keys("曾明")


def test_heteronyms_in_given_names_give_several_keys() -> None:
    assert {"zhangle", "zhangyue"} <= pinyin_keys("张乐")


def test_keys_have_no_tones_and_ignore_traditional_and_spaces() -> None:
    assert pinyin_keys("张伟") == frozenset({"zhangwei"})
    assert pinyin_keys("張　偉") == pinyin_keys("张伟")
    assert pinyin_keys("吕") == frozenset({"lv"})


def test_keys_are_capped_and_keep_every_surname_reading() -> None:
    keys = pinyin_keys("单朝行长乐重")
    assert len(keys) == MAX_PINYIN_KEYS
    assert any(k.startswith("shan") for k in keys)
    assert any(k.startswith("dan") for k in keys)


def test_empty_name_has_no_keys() -> None:
    assert pinyin_keys("") == frozenset()
    assert pinyin_keys(" \u3000") == frozenset()


def test_surname_of() -> None:
    assert surname_of("张伟") == "张"
    assert surname_of("歐陽鋒") == "欧阳"
    assert surname_of("") == ""


def test_exact_name_scores_one() -> None:
    assert name_similarity("张伟", "張　偉") == 1.0


def test_homophone_typo_scores_high_but_below_exact() -> None:
    score = name_similarity("张伟", "张韦")
    assert 0.85 <= score < 1.0


def test_surname_homophone_counts() -> None:
    assert name_similarity("单伟", "山伟") == pytest.approx(0.9)


def test_different_character_scores_lower_than_homophone() -> None:
    homophone = name_similarity("王小明", "王晓明")
    different = name_similarity("王小明", "王大明")
    assert different < homophone
    assert 0.4 < different < 0.7


def test_unrelated_names_score_low() -> None:
    assert name_similarity("张伟", "李娜") == 0.0
    assert name_similarity("张伟", "") == 0.0


def test_similarity_is_symmetric_and_bounded() -> None:
    pairs = [("张伟", "张伟明"), ("陈静", "程静"), ("欧阳锋", "区阳锋"), ("A", "张")]
    for a, b in pairs:
        assert name_similarity(a, b) == name_similarity(b, a)
        assert 0.0 <= name_similarity(a, b) <= 1.0


def test_levenshtein() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == 3
    assert levenshtein(["12", "号"], ["12", "弄"]) == 1
    assert edit_ratio("", "") == 1.0
    assert edit_ratio("abcd", "abce") == 0.75
