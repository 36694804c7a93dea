"""Chinese personal names: one written form per name, pinyin keys, and how alike two names are.

Departments write the same person's name differently: traditional characters, full-width or
ideographic spaces, assorted middle dots in minority names, and homophone slips from pinyin input
methods (张伟 typed as 张韦). Matching works on the normalised form and on the pinyin readings.
"""

from __future__ import annotations

import heapq
import re
import unicodedata
from collections.abc import Hashable, Iterator, Sequence
from functools import lru_cache

from opencc import OpenCC
from pypinyin import Style, pinyin

MIDDLE_DOT = "·"
MAX_PINYIN_KEYS = 64
HOMOPHONE_SCORE = 0.9
# Below a homophone: a different character that also sounds different is weaker evidence.
DIFFERENT_CHARACTER_FACTOR = 0.8

# Readings a character takes as a surname; general-purpose pinyin puts its everyday reading first
# (单 dan, 曾 ceng, 解 jie...), which is wrong for the family name.
SURNAME_READINGS: dict[str, tuple[str, ...]] = {
    "单": ("shan",),
    "曾": ("zeng",),
    "解": ("xie",),
    "区": ("ou",),
    "仇": ("qiu",),
    "朴": ("piao",),
    "查": ("zha",),
    "盖": ("ge",),
    "华": ("hua",),
    "乐": ("yue", "le"),
    "秘": ("bi",),
    "尉": ("yu", "wei"),
    "万": ("wan", "mo"),
    "长": ("chang", "zhang"),
    "缪": ("miao",),
    "覃": ("qin", "tan"),
    "种": ("chong",),
    "召": ("shao",),
    "员": ("yun",),
    "隗": ("wei",),
    "褚": ("chu",),
    "宓": ("mi", "fu"),
    "逄": ("pang",),
    "冼": ("xian",),
    "繁": ("po",),
    "句": ("gou",),
    "翟": ("zhai",),
    "莘": ("shen", "xin"),
    "阚": ("kan",),
    "牟": ("mou", "mu"),
    "纪": ("ji",),
    "过": ("guo",),
    "折": ("she",),
    "黑": ("he",),
    "教": ("jiao",),
    "贲": ("ben",),
    "蕃": ("pi",),
    "能": ("nai",),
    "祭": ("zhai",),
    "眭": ("sui",),
    "谌": ("chen",),
    "雍": ("yong",),
    "藏": ("zang",),
}

COMPOUND_SURNAME_READINGS: dict[str, tuple[str, ...]] = {
    "尉迟": ("yuchi",),
    "万俟": ("moqi",),
    "长孙": ("zhangsun",),
    "单于": ("chanyu",),
    "澹台": ("tantai",),
    "令狐": ("linghu",),
    "欧阳": ("ouyang",),
    "司马": ("sima",),
    "诸葛": ("zhuge",),
    "上官": ("shangguan",),
    "皇甫": ("huangfu",),
    "公孙": ("gongsun",),
    "慕容": ("murong",),
    "宇文": ("yuwen",),
    "夏侯": ("xiahou",),
    "东方": ("dongfang",),
    "司徒": ("situ",),
    "南宫": ("nangong",),
    "端木": ("duanmu",),
    "轩辕": ("xuanyuan",),
    "呼延": ("huyan",),
    "闻人": ("wenren",),
    "赫连": ("helian",),
}

_DOT_VARIANTS = re.compile("[\u00b7\u2022\u2027\u2219\u22c5\u30fb\u318d\u16eb\u0387.]+")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
# t2s maps these to a character with another reading (乾 qian -> 干 gan); in names they stay.
_KEEP_UNCONVERTED = frozenset("乾")


@lru_cache(maxsize=1)
def _to_simplified() -> OpenCC:
    return OpenCC("t2s")


@lru_cache(maxsize=65536)
def normalise_name(raw: str) -> str:
    """One written form: half-width, no whitespace, one '·' between name parts, simplified."""
    folded = unicodedata.normalize("NFKC", raw).translate(_INVISIBLE)
    compact = "".join(folded.split())
    dotted = _DOT_VARIANTS.sub(MIDDLE_DOT, compact).strip(MIDDLE_DOT)
    return _simplify(dotted)


def matching_form(name: str) -> str:
    """The normalised name without middle dots and case, for equality between records."""
    return normalise_name(name).replace(MIDDLE_DOT, "").casefold()


@lru_cache(maxsize=65536)
def pinyin_keys(name: str) -> frozenset[str]:
    """The toneless pinyin readings of the whole name, at most MAX_PINYIN_KEYS of them.

    Each character contributes every reading it has (surname readings first for the family
    name); the combinations with the fewest unusual readings are kept when there are too many.
    """
    units = _reading_units(matching_form(name))
    if not units:
        return frozenset()
    return frozenset("".join(combo) for combo in _likeliest_combinations(units, MAX_PINYIN_KEYS))


def surname_of(name: str) -> str:
    """The family name: a known compound surname, otherwise the first character."""
    form = matching_form(name)
    return form[:2] if form[:2] in COMPOUND_SURNAME_READINGS else form[:1]


def name_similarity(a: str, b: str) -> float:
    """1.0 for the same name; high for a homophone slip; lower for characters that differ."""
    left, right = matching_form(a), matching_form(b)
    if not left or not right:
        return 0.0
    if left == right:
        return 1.0
    spelled = DIFFERENT_CHARACTER_FACTOR * edit_ratio(left, right)
    if pinyin_keys(left) & pinyin_keys(right):
        return max(HOMOPHONE_SCORE, spelled)
    return spelled


def levenshtein(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Edits (insert, delete, substitute) turning one sequence into the other."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, left in enumerate(a, start=1):
        current = [i]
        for j, right in enumerate(b, start=1):
            substitution = previous[j - 1] + (left != right)
            current.append(min(previous[j] + 1, current[j - 1] + 1, substitution))
        previous = current
    return previous[-1]


def edit_ratio(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """1 - edits / longer length: 1.0 for equal sequences, 0.0 for nothing in common."""
    longest = max(len(a), len(b))
    return 1.0 if longest == 0 else 1.0 - levenshtein(a, b) / longest


def to_simplified(text: str) -> str:
    """Traditional characters to simplified, for any text (addresses included)."""
    return str(_to_simplified().convert(text))


def _simplify(name: str) -> str:
    return "".join(ch if ch in _KEEP_UNCONVERTED else to_simplified(ch) for ch in name)


def _reading_units(form: str) -> list[tuple[str, ...]]:
    compound = form[:2]
    if compound in COMPOUND_SURNAME_READINGS:
        first = _merge(COMPOUND_SURNAME_READINGS[compound], _joined_readings(compound))
        return [first, *(_readings(ch) for ch in form[2:])]
    if not form:
        return []
    first = _merge(SURNAME_READINGS.get(form[0], ()), _readings(form[0]))
    return [first, *(_readings(ch) for ch in form[1:])]


@lru_cache(maxsize=16384)
def _readings(ch: str) -> tuple[str, ...]:
    if not _is_han(ch):
        return (ch,)
    return tuple(dict.fromkeys(pinyin(ch, style=Style.NORMAL, heteronym=True)[0]))


def _joined_readings(chars: str) -> tuple[str, ...]:
    firsts, seconds = _readings(chars[0]), _readings(chars[1])
    return tuple(x + y for x in firsts for y in seconds)


def _merge(preferred: tuple[str, ...], others: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*preferred, *others)))


def _likeliest_combinations(
    units: list[tuple[str, ...]], cap: int
) -> Iterator[tuple[str, ...]]:
    """Best-first over reading indices: the sum of indices ranks how unusual a combination is."""
    start = (0,) * len(units)
    frontier = [(0, start)]
    seen = {start}
    while frontier and cap > 0:
        _, indices = heapq.heappop(frontier)
        cap -= 1
        yield tuple(units[pos][i] for pos, i in enumerate(indices))
        for pos, i in enumerate(indices):
            if i + 1 < len(units[pos]):
                nxt = (*indices[:pos], i + 1, *indices[pos + 1 :])
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(frontier, (sum(nxt), nxt))


def _is_han(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith("CJK")
