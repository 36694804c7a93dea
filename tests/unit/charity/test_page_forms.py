"""The pages' forms turned into the API's input shapes, every problem into a field and a message
id; new users' rules (the lock after repeated failed sign-ins: tests/unit/kit/test_kit_passwords.py)."""

from __future__ import annotations

import pytest

from services.charity.forms import (
    BY_FIELD,
    REQUIRED,
    VALUE_YUAN,
    Form,
    FormProblems,
    new_offering,
    offering_changes,
    offering_typed_from,
    parse,
    typed_offering,
)
from services.charity.shapes import RegistrationIn
from services.charity.users import (
    NOT_REPEATED,
    PASSWORD_RULE,
    ROLE_RULE,
    USERNAME_RULE,
    check_new_password,
    check_new_user,
)

FIELDS = {
    "title": ["Winter food parcel"], "description": [""], "category": ["food"], "programme": ["CHARITY_FOOD"], "kind": ["goods"],
    "unit": ["parcel"], "quantity_total": ["20"], "value_yuan": ["150.50"], "household_categories": ["dibao", "low_income"],
    "colours": [], "min_age": ["60"], "max_age": [""], "disability_required": ["on"], "districts": ["310104"],
    "subdistricts": ["310104003，310104004 、"], "valid_from": ["2026-12-01"], "valid_until": ["2027-02-28"], "confirm_every_days": ["14"],
}


def problems(fields: dict[str, list[str]]) -> dict[str, tuple[str, dict[str, str]]]:
    with pytest.raises(FormProblems) as raised:
        new_offering(typed_offering(Form(fields)))
    return raised.value.problems


def test_a_good_form_is_the_apis_offering_input() -> None:
    given = new_offering(typed_offering(Form(FIELDS)))
    assert given.value_fen_per_unit == 15050 and given.quantity_total == 20
    assert given.eligibility.min_age == 60 and given.eligibility.max_age is None and given.eligibility.disability_required
    assert not given.eligibility.registered_residence_required
    assert given.service_area.subdistricts == ["310104003", "310104004"]


def test_a_stored_offering_shown_in_the_form_reads_back_the_same() -> None:
    given = new_offering(typed_offering(Form(FIELDS)))
    record = {**given.model_dump(mode="json"), "service_area": given.service_area.model_dump()}
    typed = offering_typed_from(record)
    assert typed["value_yuan"] == "150.50" and typed["subdistricts"] == "310104003, 310104004"
    assert offering_changes(typed).model_dump() == given.model_dump()


@pytest.mark.parametrize(("field", "typed", "message"), [
    ("quantity_total", "", "A whole number"),
    ("quantity_total", "0", "At least {ge}"),
    ("quantity_total", "2000000", "At most {le}"),
    ("value_yuan", "12.345", VALUE_YUAN),
    ("value_yuan", "abc", VALUE_YUAN),
    ("value_yuan", "200000", VALUE_YUAN),
    ("title", "", REQUIRED),
    ("title", "ab", "At least {min_length} characters"),
    ("category", "toys", "Choose one of the options"),
    ("programme", "FOOD", BY_FIELD["programme"]),
    ("valid_from", "01/12/2026", "A date written YYYY-MM-DD"),
    ("valid_until", "2026-11-01", BY_FIELD["valid_until"]),  # before valid_from
    ("max_age", "50", BY_FIELD["max_age"]),  # below min_age 60
    ("districts", "310999", BY_FIELD["districts"]),
    ("subdistricts", "31010", BY_FIELD["subdistricts"]),
])
def test_each_bad_field_is_named_with_a_message_id(field: str, typed: str, message: str) -> None:
    found = problems({**FIELDS, field: [typed]})
    assert set(found) == {field}
    assert found[field][0] == message


def test_placeholders_carry_the_bound() -> None:
    assert problems({**FIELDS, "quantity_total": ["0"]})["quantity_total"] == ("At least {ge}", {"ge": "1"})


def test_every_bad_field_at_once() -> None:
    assert set(problems({**FIELDS, "title": [""], "value_yuan": ["x"], "kind": ["boat"]})) == {"title", "value_yuan", "kind"}


def test_a_change_needs_every_field_the_form_shows() -> None:
    typed = typed_offering(Form({**FIELDS, "unit": [""], "quantity_total": [""]}))
    with pytest.raises(FormProblems) as raised:
        offering_changes(typed)
    assert set(raised.value.problems) == {"unit", "quantity_total"}


def test_registration_formats_say_the_whole_format() -> None:
    data = {"name": "Warm Heart", "kind": "charity", "credit_code": "12", "districts": [], "contact_name": "李",
            "contact_phone": "123"}
    with pytest.raises(FormProblems) as raised:
        parse(RegistrationIn, data)
    assert raised.value.problems["credit_code"][0] == BY_FIELD["credit_code"]
    assert raised.value.problems["contact_phone"][0] == BY_FIELD["contact_phone"]
    with pytest.raises(FormProblems) as raised:
        parse(RegistrationIn, {**data, "credit_code": ""})
    assert raised.value.problems["credit_code"][0] == REQUIRED


def test_new_user_rules() -> None:
    assert check_new_user("warm.heart-1", "ten chars!") == {}
    assert check_new_user("Warm", "short") == {"username": USERNAME_RULE, "password": PASSWORD_RULE}
    assert check_new_user("ab", "x" * 257) == {"username": USERNAME_RULE, "password": PASSWORD_RULE}
    assert check_new_user("helper1", "ten chars!", "volunteer") == {}
    assert check_new_user("helper1", "ten chars!", "owner") == {"role": ROLE_RULE}


def test_a_new_password_follows_the_rule_and_is_typed_twice_alike() -> None:
    assert check_new_password("a new passphrase", "a new passphrase") == {}
    assert check_new_password("short", "short") == {"new_password": PASSWORD_RULE}
    assert check_new_password("a new passphrase", "a new passphrase ") == {"repeat_password": NOT_REPEATED}
