"""Pages from Jinja2 templates, one environment per language with its Babel catalogue installed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment
from markupsafe import Markup, escape

from contracts.catalogue import DEPARTMENTS, PROGRAMMES
from kit.pages import N_, csrf_token, here
from services.web.accounts import Permission, StaffMember
from services.web.i18n import CATALOGUES

TEMPLATES = Path(__file__).parent / "templates"
CSRF_COOKIE = "csrftoken"  # starlette-csrf's default name

# The navigation: (path, message id, permission).
NAVIGATION = (
    ("/dashboard", N_("Dashboard"), Permission.VIEW),
    ("/alerts", N_("Alerts"), Permission.VIEW),
    ("/households", N_("Households"), Permission.VIEW),
    ("/identity-reviews", N_("Identity reviews"), Permission.DECIDE),
    ("/organisations", N_("Organisations"), Permission.SOCIAL),
    ("/offerings", N_("Offerings"), Permission.SOCIAL),
    ("/unmet-needs", N_("Unmet needs"), Permission.SOCIAL),
    ("/cliff", N_("Cliff effect"), Permission.VIEW),
    ("/audit", N_("Audit trail"), Permission.AUDIT),
    ("/accounts", N_("Accounts"), Permission.MANAGE_ACCOUNTS),
)


def yuan(value: float | int | None) -> str:
    return f"{value:,.2f}" if isinstance(value, int | float) else ""


def fen_to_yuan(value: int | None) -> str:
    return f"{value / 100:,.2f}" if isinstance(value, int | float) else ""


class Pages:
    def __init__(self) -> None:
        self.catalogues = CATALOGUES
        self.environments = {language: _environment(language) for language in CATALOGUES.languages}

    def language(self, request: Request) -> str:
        return self.catalogues.language(request)

    def translate(self, request: Request, message: str) -> str:
        return self.catalogues.translate(request, message)

    def render(self, request: Request, template: str, staff: StaffMember | None = None, status: int = 200,
               **context: Any) -> HTMLResponse:
        language = self.language(request)
        page = self.environments[language].get_template(template).render(
            request=request, staff=staff, lang=language, csrf_token=csrf_token(request, CSRF_COOKIE),
            navigation=[(path, label) for path, label, permission in NAVIGATION if staff and staff.may(permission)],
            here=request.url.path, here_with_query=here(request), **context,
        )
        return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})


def _environment(language: str) -> Environment:
    environment = CATALOGUES.environment(TEMPLATES, language)
    environment.filters["yuan"] = yuan
    environment.filters["fen"] = fen_to_yuan
    environment.filters["programme"] = lambda code: _name(PROGRAMMES.get(code), language, code)
    environment.filters["department"] = lambda code: _name(DEPARTMENTS.get(code), language, code)
    environment.globals["cell"] = _cell_renderer(language)
    environment.globals["programmes"] = PROGRAMMES
    environment.globals["departments"] = DEPARTMENTS
    environment.globals["languages"] = CATALOGUES.languages
    return environment


TRANSLATED_CODES = frozenset({"status", "severity", "side", "age", "role", "decision", "state", "colour", "previous", "category",
                              "kind", "closed_reason", "reason_code"})


def _cell_renderer(language: str) -> Any:
    """One table cell as HTML: a Python function, as tables at city size have thousands of cells."""
    translate = CATALOGUES.gettext(language)

    def programme(code: str) -> str:
        return _name(PROGRAMMES.get(code), language, code)

    def cell(column: Any, value: Any) -> Markup:
        if value is None:
            return Markup("")
        key = column.key
        if key == "programme":
            return escape(programme(value))
        if key == "programmes":
            return escape(", ".join(programme(p) for p in value))
        if key == "alert_id":
            return Markup('<a href="/alerts/{0}">{0}</a>').format(value)
        if key == "household_id":
            return Markup('<a href="/households/{0}">{0}</a>').format(value)
        if key in TRANSLATED_CODES:
            return escape(translate(str(value)))
        if isinstance(value, list):
            return escape(", ".join(translate(str(v)) for v in value))
        if key == "locked":
            return escape(translate("yes") if value else translate("no"))
        if column.numeric and isinstance(value, float):
            return escape(yuan(value))
        return escape(str(value))

    return cell


def _name(entry: Any, language: str, code: str | None) -> str:
    if entry is None:
        return code or ""
    return entry.name_zh if language == "zh" else entry.name


# Codes the pages show translated (`_(value)`): listed here so extraction finds them.
CODE_LABELS = (
    N_("open"), N_("resolved"), N_("confirmed_duplicate"), N_("justified"),
    N_("high"), N_("medium"), N_("low"), N_("below"), N_("at_or_above"),
    N_("administrator"), N_("reviewer"), N_("department_viewer"),
    N_("red"), N_("orange"), N_("yellow"), N_("green"),
    N_("dibao"), N_("low_income"), N_("extreme_poverty"), N_("expenditure_poverty"), N_("marginal"),
    N_("head"), N_("spouse"), N_("child"), N_("parent"), N_("sibling"), N_("grandchild"), N_("other"),
    N_("department"), N_("charity"), N_("active"), N_("ended"), N_("closed"),
    # social forces: offering statuses, organisation kinds, categories, match states, reasons
    N_("stale"), N_("withdrawn"), N_("exhausted"), N_("expired"), N_("pending"), N_("approved"), N_("refused"), N_("citywide"),
    N_("foundation"), N_("company"), N_("social_work_agency"), N_("volunteer_group"),
    N_("goods"), N_("cash"), N_("service"), N_("place"),
    N_("basic_living"), N_("medical"), N_("education"), N_("housing"), N_("employment"), N_("emergency"), N_("disability"),
    N_("food"), N_("care"),
    N_("proposed"), N_("accepted"), N_("in_progress"), N_("fulfilled"), N_("declined"), N_("failed"), N_("cancelled"),
    N_("no_capacity"), N_("outside_area"), N_("not_eligible"), N_("unreachable"),
    N_("offering_withdrawn"), N_("offering_closed"), N_("offering_stale"), N_("need_closed"), N_("need_met"), N_("household_served"),
    N_("already_served"), N_("no_offering_in_area"), N_("declined_by_all"), N_("waiting_for_round"), N_("need_fulfilled"),
)
