from datetime import date

import pytest

from services.intake.linking import (
    Candidate,
    CandidateIndex,
    LinkDecision,
    Linked,
    NeedsReview,
    NewPerson,
    PersonRecord,
    address_similarity,
    birth_date_agreement,
    blocking_keys,
    decide,
    match_score,
    normalise_address,
    split_district,
)

BORN = date(1962, 3, 14)
HOME = "浦东新区张杨路1234弄5号601室"
ZHANG_WEI = Candidate("p_zhangwei", "张伟", BORN, HOME)


def record(
    name: str = "张伟",
    born: date | None = BORN,
    address: str = HOME,
    near_keys: frozenset[str] = frozenset(),
) -> PersonRecord:
    return PersonRecord(None, name, born, address, "310115", near_keys)


def assert_linked(decision: LinkDecision, person_key: str, score: float) -> None:
    assert isinstance(decision, Linked)
    assert decision.person_key == person_key
    assert decision.score == pytest.approx(score)


@pytest.mark.parametrize(
    "raw",
    [
        "上海市浦东新区张杨路1234弄5号601室",
        "上海浦东新区张杨路1234弄5号601室",
        "浦东新区张杨路１２３４弄５号６０１室",
        "浦东新区 张杨路1234弄5号楼601室",
        "浦东新区张杨路1234弄5幢601室",
        "浦东新区张杨路1234弄5-601",
        "浦东新区张杨路1234弄5号-601",
        "浦东新区张杨路1234弄五号601室",
        "上海市\u3000浦东新区张楊路1234弄5号601",
    ],
)
def test_address_variants_normalise_alike(raw: str) -> None:
    assert normalise_address(raw) == "浦东新区张杨路1234弄5号601"


def test_chinese_numbers_with_tens() -> None:
    assert normalise_address("长宁路十五号二十三室") == "长宁路15号23"


def test_split_district_only_on_known_districts() -> None:
    assert split_district(HOME) == ("浦东新区", "张杨路1234弄5号601")
    assert split_district("长宁路88号") == (None, "长宁路88号")
    assert split_district("闸北区共和新路10号")[0] == "闸北区"


def test_address_similarity() -> None:
    assert address_similarity(HOME, "张杨路1234弄5号601室") == 1.0
    other_flat = address_similarity(HOME, "浦东新区张杨路1234弄5号602室")
    other_road = address_similarity(HOME, "徐汇区漕溪北路88号1201室")
    assert other_road < other_flat < 0.6


def test_birth_date_agreement() -> None:
    assert birth_date_agreement(BORN, BORN) == 1.0
    assert 0 < birth_date_agreement(BORN, date(1962, 3, 15)) < 1
    assert 0 < birth_date_agreement(date(1962, 3, 4), date(1962, 4, 3)) < 1
    assert birth_date_agreement(BORN, date(1971, 8, 2)) == 0.0
    assert 0 < birth_date_agreement(BORN, None) < 1


def test_exact_record_links() -> None:
    decision = decide(record(), [ZHANG_WEI])
    assert_linked(decision, "p_zhangwei", 1.0)


def test_record_with_a_valid_number_links_to_it() -> None:
    own = PersonRecord("p_own", "张伟", BORN, HOME, None)
    assert decide(own, [ZHANG_WEI]) == Linked("p_own", 1.0)


@pytest.mark.parametrize(
    "typo",
    [
        record(name="张韦"),
        record(name="張偉"),
        record(name="张　伟", address="上海市浦东新区张杨路１２３４弄５-601"),
    ],
)
def test_name_and_address_variants_link(typo: PersonRecord) -> None:
    decision = decide(typo, [ZHANG_WEI])
    assert isinstance(decision, Linked) and decision.person_key == "p_zhangwei"


def test_date_slip_with_name_and_home_agreeing_links() -> None:
    decision = decide(record(born=date(1962, 3, 15)), [ZHANG_WEI])
    assert isinstance(decision, Linked) and decision.score < 0.95


def test_two_slips_are_referred_unless_the_number_hints_at_the_person() -> None:
    slipped = record(name="张韦", born=date(1962, 3, 15))
    assert isinstance(decide(slipped, [ZHANG_WEI]), NeedsReview)
    hinted = record(name="张韦", born=date(1962, 3, 15), near_keys=frozenset({"p_zhangwei", "p_x"}))
    decision = decide(hinted, [ZHANG_WEI])
    assert_linked(decision, "p_zhangwei", match_score(hinted, ZHANG_WEI))


def test_a_mistyped_number_that_repairs_to_someone_else_counts_against() -> None:
    repaired_elsewhere = record(name="张韦", near_keys=frozenset({"p_twin_of_zhangwei"}))
    assert isinstance(decide(repaired_elsewhere, [ZHANG_WEI]), NeedsReview)
    exact = record(near_keys=frozenset({"p_twin_of_zhangwei"}))
    assert isinstance(decide(exact, [ZHANG_WEI]), Linked)


def test_twins_at_the_same_address_go_to_review() -> None:
    twin = Candidate("p_twin", "张玮", BORN, HOME)
    decision = decide(record(), [ZHANG_WEI, twin])
    assert isinstance(decision, NeedsReview)
    assert [s.candidate.person_key for s in decision.candidates] == ["p_zhangwei", "p_twin"]


def test_twins_with_unrelated_given_names_are_told_apart() -> None:
    twin = Candidate("p_twin", "张明", BORN, HOME)
    assert_linked(decide(record(), [ZHANG_WEI, twin]), "p_zhangwei", 1.0)


def test_namesake_elsewhere_is_not_linked_when_the_person_is_unknown() -> None:
    namesake = Candidate("p_namesake", "张伟", BORN, "徐汇区漕溪北路88号1201室")
    decision = decide(record(), [namesake])
    assert isinstance(decision, NeedsReview)


def test_missing_birth_date_links_only_on_name_and_flat() -> None:
    assert isinstance(decide(record(born=None), [ZHANG_WEI]), Linked)
    assert isinstance(decide(record(born=None, name="张韦"), [ZHANG_WEI]), NeedsReview)
    elsewhere = record(born=None, address="浦东新区张杨路1234弄7号601室")
    assert not isinstance(decide(elsewhere, [ZHANG_WEI]), Linked)


def test_missing_address_never_links_on_name_and_birth_date_alone() -> None:
    assert isinstance(decide(record(address=""), [ZHANG_WEI]), NeedsReview)


def test_namesake_in_the_next_building_is_not_linked() -> None:
    namesake = Candidate("p_namesake", "张伟", BORN, "浦东新区张杨路1234弄7号601室")
    assert not isinstance(decide(record(), [namesake]), Linked)


def test_namesake_does_not_block_the_true_person() -> None:
    namesake = Candidate("p_namesake", "张伟", BORN, "徐汇区漕溪北路88号1201室")
    assert_linked(decide(record(), [namesake, ZHANG_WEI]), "p_zhangwei", 1.0)


def test_unrelated_person_means_new_person() -> None:
    stranger = Candidate("p_li", "李娜", date(1990, 7, 1), "闵行区七莘路100号")
    assert decide(record(), [stranger]) == NewPerson()
    assert decide(record(), []) == NewPerson()


def test_one_person_under_several_spellings_is_not_ambiguous() -> None:
    variants = [ZHANG_WEI, Candidate("p_zhangwei", "張偉", BORN, "张杨路1234弄5号楼601室")]
    assert_linked(decide(record(name="张韦"), variants), "p_zhangwei", 0.96)


def test_thresholds_are_parameters() -> None:
    strict = decide(record(name="张韦"), [ZHANG_WEI], auto_link_threshold=0.99)
    assert isinstance(strict, NeedsReview)
    assert decide(record(name="李娜"), [ZHANG_WEI], review_threshold=0.99) == NewPerson()


def test_blocking_keys_survive_one_wrong_field() -> None:
    truth = blocking_keys(ZHANG_WEI)
    for variant in (
        record(name="张韦"),
        record(born=date(1962, 3, 15)),
        record(born=date(1963, 3, 14)),
        record(born=None),
        record(name="张玮明", address="闵行区七莘路100号"),
    ):
        assert truth & blocking_keys(variant), variant


def test_blocking_keys_include_identity() -> None:
    assert "k:p_zhangwei" in blocking_keys(ZHANG_WEI)
    assert "k:p_near" in blocking_keys(record(near_keys=frozenset({"p_near"})))


def test_index_finds_candidates_despite_typos() -> None:
    index = CandidateIndex()
    stranger = Candidate("p_li", "李娜", date(1990, 7, 1), "闵行区七莘路100号")
    index.add(ZHANG_WEI)
    index.add(ZHANG_WEI)
    index.add(stranger)
    assert len(index) == 2
    assert index.candidates_for(record(name="张韦")) == [ZHANG_WEI]
    assert index.candidates_for(record(name="王芳", born=date(2001, 1, 1))) == []
