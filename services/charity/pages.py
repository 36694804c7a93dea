"""The organisation's own pages, served by the charity service under /pages: register, sign in,
home with the organisation's status, offerings, the inbox of proposals, API keys, the
organisation's users and each user's own password.

Each page reads the session, calls the same use case the JSON route calls (`usecases`, with a
`Caller` the session stands for) and renders a template in the person's language. A form with a
bad field is shown again with what was typed and the reason beside the field; nothing is written.
The pages are their own small application mounted on the service's, so they are not in its
OpenAPI document and their errors are pages, not JSON.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment
from starlette.concurrency import run_in_threadpool

from contracts.catalogue import DISTRICTS, PROGRAMMES, Category, ColourStatus, HouseholdCategory
from contracts.envelope import CODE_PATTERN
from kit.pages import (
    N_,
    Catalogues,
    FormCSRFMiddleware,
    SignedCookie,
    SignInRequired,
    csrf_token,
    error_pages,
    here,
    local_path,
    sign_in_redirect,
)
from kit.settings import PagesSettings
from services.charity import accounts as signing
from services.charity import usecases
from services.charity.accounts import Accounts, SignedIn, UserProblems
from services.charity.forms import (
    BY_FIELD,
    Form,
    FormProblems,
    Problems,
    new_offering,
    offering_changes,
    offering_typed_from,
    parse,
    stored_problem,
    typed_offering,
)
from services.charity.matches import DECLINE_REASONS, Action, MatchState
from services.charity.offerings import CHARITY_PROGRAMMES
from services.charity.repository import OfferingFilter
from services.charity.shapes import DeclineIn, FailIn, FulfilIn, KeyOut, MatchOut, RegistrationIn
from services.charity.usecases import Conflict, FieldProblem, NotFound, Refused
from services.charity.users import ROLES, USERNAME

PREFIX = "/pages"
HERE = Path(__file__).parent
SESSION_COOKIE = "charity_session"
NEW_KEY_COOKIE = "charity_new_key"  # the key just created, carried to the GET that shows it once
CSRF_COOKIE = "charity_csrftoken"  # not the staff front's: on one host the two would overwrite each other
KEY_ID = re.compile(r"^[0-9a-f]{12}$")
ORGANISATION_KINDS = ("charity", "foundation", "company", "social_work_agency", "volunteer_group")
OFFERING_KINDS = ("goods", "cash", "service", "place")
INBOX_STATES = [s.value for s in MatchState]


class Pages:
    """Templates, one Jinja2 environment per language with its Babel catalogue installed."""

    def __init__(self, catalogues: Catalogues) -> None:
        self.catalogues = catalogues
        self.environments = {language: self._environment(language) for language in catalogues.languages}

    def _environment(self, language: str) -> Environment:
        environment = self.catalogues.environment(HERE / "templates", language)
        name = "name_zh" if language == "zh" else "name"

        def district_name(code: str) -> str:
            return getattr(DISTRICTS.get(code), name, None) or code

        def programme_name(code: str) -> str:
            return getattr(PROGRAMMES.get(code), name, None) or code

        environment.filters["yuan"] = lambda fen: "" if fen is None else f"{fen / 100:,.2f}"
        environment.globals.update(
            district_name=district_name, programme_name=programme_name,
            P=PREFIX, districts=list(DISTRICTS), categories=[c.value for c in Category], programmes=CHARITY_PROGRAMMES,
            household_categories=[c.value for c in HouseholdCategory], colours=[c.value for c in ColourStatus],
            offering_kinds=OFFERING_KINDS, organisation_kinds=ORGANISATION_KINDS, decline_reasons=DECLINE_REASONS,
            inbox_states=INBOX_STATES, roles=ROLES,
        )
        return environment

    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        language = self.catalogues.language(request)
        translate = self.catalogues.gettext(language)
        problems: Problems = context.pop("problems", None) or {}
        page = self.environments[language].get_template(template).render(
            lang=language, csrf_token=csrf_token(request, CSRF_COOKIE), here=here(request),
            user=getattr(request.state, "user", None),
            errors={field: translate(message).format(**values) for field, (message, values) in problems.items()},
            **context,
        )
        return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})


def pages_app(charity: usecases.Charity, accounts: Accounts, settings: PagesSettings) -> FastAPI:
    """The pages as their own application, to mount at PREFIX."""
    pages = Pages(Catalogues(HERE / "locale"))
    secret, secure = settings.secret(), settings.secure_cookies
    cookie = SignedCookie(SESSION_COOKIE, secret, "charity-session", int(settings.session_length().total_seconds()), secure)
    new_key = SignedCookie(NEW_KEY_COOKIE, secret, "charity-new-key", 300, secure, path=f"{PREFIX}/keys")
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.add_middleware(FormCSRFMiddleware, secret=secret, cookie_name=CSRF_COOKIE, cookie_secure=secure, cookie_samesite="strict")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(_router(pages, charity, accounts, cookie, new_key))
    _error_pages(app, pages)
    return app


def _error_pages(app: FastAPI, pages: Pages) -> None:
    def page(request: Request, status: int, heading: str, message: str) -> Response:
        return pages.render(request, "error.html", status, heading=heading, message=message)

    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, _: SignInRequired) -> Response:
        return sign_in_redirect(request, f"{PREFIX}/sign-in", f"{PREFIX}/")

    error_pages(app, page, {
        NotFound: (404, N_("Not found"), N_("There is no such record, or it is not your organisation's.")),
        Refused: (403, N_("Not allowed"), N_("Your organisation may not do this now.")),
        Conflict: (409, N_("Not possible now"), N_("The record's state does not allow this any more. Go back and look again.")),
        # the routes show it beside the field; this is the net
        FieldProblem: (400, N_("Something is wrong with the request"), N_("Please go back and try again.")),
    })


def _record(value: str, pattern: re.Pattern[str] | str = CODE_PATTERN) -> str:
    if not re.fullmatch(pattern, value):
        raise NotFound(value)
    return value


def _router(pages: Pages, charity: usecases.Charity, accounts: Accounts, cookie: SignedCookie, new_key: SignedCookie) -> APIRouter:
    router = APIRouter()
    render = pages.render

    async def signed(request: Request) -> SignedIn:
        session_id = cookie.read(request)
        user = await run_in_threadpool(signing.signed_in, accounts, session_id) if session_id else None
        if user is None:
            raise SignInRequired()
        request.state.user = user
        return user

    async def form_of(request: Request) -> Form:
        data = await request.form()
        return Form({name: data.getlist(name) for name in data.keys()})

    def see(path: str) -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}{path}", status_code=303)

    async def call(work: Callable[..., Any], *args: Any) -> Any:
        return await run_in_threadpool(work, *args)

    # --- register, sign in, sign out, language --------------------------------------------------

    @router.get("/register")
    async def register_page(request: Request) -> Response:
        return render(request, "register.html", typed={"districts": []})

    @router.post("/register")
    async def register(request: Request) -> Response:
        form = await form_of(request)
        typed: dict[str, Any] = {name: form.one(name, 256) for name in ("name", "kind", "credit_code", "contact_name", "contact_phone", "username")}
        typed["districts"] = form.many("districts")
        password = form.one("password", 300)
        try:
            given = parse(RegistrationIn, {k: v for k, v in typed.items() if k != "username"},
                          {f: (m, {}) for f, m in signing.check_new_user(typed["username"], password).items()})
            await call(signing.register_with_user, accounts, usecases.Registration(**given.model_dump()), typed["username"], password)
        except FormProblems as bad:
            return render(request, "register.html", 400, typed=typed, problems=bad.problems)
        except UserProblems as bad:
            return render(request, "register.html", 400, typed=typed, problems={f: (m, {}) for f, m in bad.problems.items()})
        except FieldProblem as problem:
            return render(request, "register.html", 400, typed=typed, problems=stored_problem(problem.field))
        return see(f"/sign-in?registered=1&username={quote(typed['username'])}")

    @router.get("/sign-in")
    async def sign_in_page(request: Request, next: str = "", expired: bool = False, registered: bool = False, username: str = "") -> Response:
        return render(request, "sign_in.html", next=local_path(next, PREFIX + "/"), username=username[:32], expired=expired, registered=registered)

    @router.post("/sign-in")
    async def sign_in(request: Request) -> Response:
        form = await form_of(request)
        username, target = form.one("username", 64), local_path(form.one("next"), PREFIX + "/")
        try:
            user = await call(signing.sign_in, accounts, username, form.one("password", 300))
        except FieldProblem as problem:
            return render(request, "sign_in.html", 400, next=target, username=username, problems={problem.field: (str(problem), {})})
        response = RedirectResponse(target, status_code=303)
        cookie.set(response, user.session_id)
        return response

    @router.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        if session_id := cookie.read(request):
            await call(signing.sign_out, accounts, session_id)
        response = see("/sign-in")
        cookie.clear(response)
        new_key.clear(response)
        return response

    @router.get("/language/{language}")
    async def language(language: str, next: str = "") -> Response:
        return pages.catalogues.choose(language, local_path(next, PREFIX + "/"))

    # --- home -------------------------------------------------------------------------------

    @router.get("/")
    async def home(request: Request) -> Response:
        user = await signed(request)
        caller = user.caller
        organisation = await call(usecases.show_organisation, charity, caller, caller.organisation_id)
        waiting = await call(usecases.inbox, charity, caller, "requested", 1000, 0)
        live = await call(usecases.list_offerings, charity, caller, OfferingFilter(closed=False, limit=1000))
        return render(request, "home.html", organisation=organisation, waiting=len(waiting), live=len(live),
                      stale=sum(o["status"] == "stale" for o in live))

    # --- offerings --------------------------------------------------------------------------

    @router.get("/offerings")
    async def offerings(request: Request, done: str = "") -> Response:
        user = await signed(request)
        found = await call(usecases.list_offerings, charity, user.caller, OfferingFilter(limit=500))
        return render(request, "offerings.html", offerings=found, done=done[:32])

    @router.get("/offerings/new")
    async def new_offering_page(request: Request) -> Response:
        user = await signed(request)
        return render(request, "offering_form.html", offering=None, typed=_blank_offering(), may_publish=user.caller.organisation_status == "approved")

    @router.post("/offerings/new")
    async def create_offering(request: Request) -> Response:
        user = await signed(request)
        typed = typed_offering(await form_of(request))
        try:
            created = await call(usecases.create_offering, charity, user.caller, new_offering(typed))
        except FormProblems as bad:
            return render(request, "offering_form.html", 400, offering=None, typed=typed, problems=bad.problems, may_publish=True)
        except FieldProblem as problem:
            return render(request, "offering_form.html", 400, offering=None, typed=typed, problems=stored_problem(problem.field), may_publish=True)
        return see(f"/offerings?done=published#{created.offering_id}")

    async def offering_page(request: Request, user: SignedIn, offering_id: str, status: int = 200, **context: Any) -> Response:
        offering, promised = await call(usecases.show_offering, charity, user.caller, _record(offering_id))
        shown = {**offering.model_dump(), "service_area": {"districts": offering.districts, "subdistricts": offering.subdistricts}}
        context.setdefault("typed", offering_typed_from(shown))
        return render(request, "offering_form.html", status, offering=shown, promised=promised, may_publish=True, **context)

    @router.get("/offerings/{offering_id}")
    async def offering(request: Request, offering_id: str) -> Response:
        return await offering_page(request, await signed(request), offering_id)

    @router.post("/offerings/{offering_id}")
    async def change_offering(request: Request, offering_id: str) -> Response:
        user = await signed(request)
        typed = typed_offering(await form_of(request))
        try:
            await call(usecases.change_offering, charity, user.caller, _record(offering_id), offering_changes(typed))
        except FormProblems as bad:
            return await offering_page(request, user, offering_id, 400, typed=typed, problems=bad.problems)
        except FieldProblem as problem:
            return await offering_page(request, user, offering_id, 400, typed=typed, problems=stored_problem(problem.field))
        return see(f"/offerings?done=changed#{offering_id}")

    @router.post("/offerings/{offering_id}/confirm-capacity")
    async def confirm_capacity(request: Request, offering_id: str) -> Response:
        user = await signed(request)
        remaining = (await form_of(request)).one("quantity_remaining", 16)
        problems: Problems = {}
        if remaining and not (remaining.isdigit() and int(remaining) <= 1_000_000):
            problems = {"quantity_remaining": (N_("A whole number from 0 to 1,000,000"), {})}
        else:
            try:
                await call(usecases.confirm_capacity, charity, user.caller, _record(offering_id), int(remaining) if remaining else None)
                return see(f"/offerings?done=confirmed#{offering_id}")
            except FieldProblem as problem:
                problems = stored_problem(problem.field)
        return await offering_page(request, user, offering_id, 400, problems=problems, remaining=remaining)

    @router.post("/offerings/{offering_id}/withdraw")
    async def withdraw(request: Request, offering_id: str) -> Response:
        user = await signed(request)
        reason = (await form_of(request)).one("reason", 200)
        await call(usecases.withdraw_offering, charity, user.caller, _record(offering_id), reason)
        return see(f"/offerings?done=withdrawn#{offering_id}")

    # --- the inbox --------------------------------------------------------------------------

    @router.get("/inbox")
    async def inbox(request: Request, state: str = "") -> Response:
        user = await signed(request)
        state = state if state in INBOX_STATES else ""
        entries = await call(usecases.inbox, charity, user.caller, state or None, 200, 0)
        return render(request, "inbox.html", entries=entries, state=state, titles=await titles_of(user))

    async def titles_of(user: SignedIn) -> dict[str, str]:
        found = await call(usecases.list_offerings, charity, user.caller, OfferingFilter(limit=1000))
        return {o["offering_id"]: o["title"] for o in found}

    async def match_page(request: Request, user: SignedIn, match_id: str, status: int = 200, **context: Any) -> Response:
        entry = await call(usecases.show_match, charity, user.caller, _record(match_id))
        shown = MatchOut.of(entry).model_dump()  # what the JSON inbox shows, never the household
        context.setdefault("typed", {})
        return render(request, "match.html", status, match=shown, title=(await titles_of(user)).get(shown["offering_id"], ""), **context)

    @router.get("/inbox/{match_id}")
    async def match(request: Request, match_id: str, done: str = "") -> Response:
        return await match_page(request, await signed(request), match_id, done=done[:16])

    async def act(request: Request, match_id: str, action: Action, read: Callable[[Form], tuple[dict[str, Any], Any]]) -> Response:
        user = await signed(request)
        typed: dict[str, Any] = {}
        try:
            typed, arguments = read(await form_of(request))
            await call(usecases.answer, charity, user.caller, _record(match_id), action, *arguments)
        except FormProblems as bad:
            return await match_page(request, user, match_id, 400, typed=typed, problems=bad.problems, acting=action.value)
        except FieldProblem as problem:
            return await match_page(request, user, match_id, 400, typed=typed, problems=stored_problem(problem.field), acting=action.value)
        except Conflict:
            return await match_page(request, user, match_id, 409, conflict=True)
        return see(f"/inbox/{match_id}?done={action.value}")

    def accepting(_: Form) -> tuple[dict[str, Any], Any]:
        return {}, ()

    def declining(form: Form) -> tuple[dict[str, Any], Any]:
        typed = {"reason_code": form.one("reason_code", 32), "reason": form.one("reason", 200)}
        given = parse(DeclineIn, typed)
        if given.reason_code == "other" and not given.reason:
            raise FormProblems({"reason": (BY_FIELD["reason"], {})})
        return typed, (given.reason_code, given.reason)

    def fulfilling(form: Form) -> tuple[dict[str, Any], Any]:
        typed = {"quantity": form.one("quantity", 16), "delivered_on": form.one("delivered_on", 16), "note": form.one("note", 500)}
        given = parse(FulfilIn, {k: v or None for k, v in typed.items() if k != "note"} | {"note": typed["note"]})
        return typed, (None, "", usecases.Delivery(given.quantity, given.delivered_on, given.note))

    def failing(form: Form) -> tuple[dict[str, Any], Any]:
        typed = {"failure": form.one("failure", 200)}
        try:
            given = parse(FailIn, {"reason": typed["failure"]})
        except FormProblems as bad:
            raise FormProblems({"failure": bad.problems["reason"]}) from None
        return typed, (None, given.reason)

    for path, action, read in (("accept", Action.ACCEPT, accepting), ("decline", Action.DECLINE, declining),
                               ("fulfil", Action.FULFIL, fulfilling), ("fail", Action.FAIL, failing)):
        def route(action: Action = action, read: Callable[[Form], tuple[dict[str, Any], Any]] = read) -> Any:
            async def answer(request: Request, match_id: str) -> Response:
                return await act(request, match_id, action, read)
            return answer
        router.add_api_route(f"/inbox/{{match_id}}/{path}", route(), methods=["POST"])

    # --- API keys ---------------------------------------------------------------------------

    async def keys_page(request: Request, user: SignedIn, status: int = 200, **context: Any) -> Response:
        caller = user.caller
        keys = await call(usecases.list_keys, charity, caller, caller.organisation_id)
        return render(request, "keys.html", status, keys=[KeyOut.of(k).model_dump() for k in keys], **context)

    @router.get("/keys")
    async def keys(request: Request, revoked: str = "") -> Response:
        user = await signed(request)
        created = _flash(new_key.read(request), user.session_id)
        response = await keys_page(request, user, revoked=revoked[:12], created=created)
        if NEW_KEY_COOKIE in request.cookies:
            new_key.clear(response)  # shown once: a reload does not show it again
        return response

    @router.post("/keys")
    async def create_key(request: Request) -> Response:
        """Post/redirect/get: the key goes to the next GET in a signed, short-lived cookie scoped
        to the keys page and bound to this session (never in a URL), so a reload creates nothing."""
        user = await signed(request)
        label = (await form_of(request)).one("label", 200)
        if not 1 <= len(label) <= 64:
            return await keys_page(request, user, 400, label=label, problems={"label": (N_("1 to 64 characters"), {})})
        key, issued = await call(usecases.create_key, charity, user.caller, user.organisation_id, label)
        response = see("/keys")
        new_key.set(response, json.dumps({"session": _digest(user.session_id), "key_id": key.key_id, "label": key.label, "secret": issued.secret}))
        return response

    @router.post("/keys/{key_id}/revoke")
    async def revoke_key(request: Request, key_id: str) -> Response:
        user = await signed(request)
        await call(usecases.revoke_key, charity, user.caller, user.caller.organisation_id, _record(key_id, KEY_ID))
        return see(f"/keys?revoked={key_id}")

    # --- the organisation's users and one's own password ---------------------------------------

    async def users_page(request: Request, user: SignedIn, status: int = 200, **context: Any) -> Response:
        found = await call(signing.users_of, accounts, user)
        context.setdefault("typed", {"role": "volunteer"})
        return render(request, "users.html", status, users=found, **context)

    @router.get("/users")
    async def users(request: Request, done: str = "") -> Response:
        return await users_page(request, await signed(request), done=done[:16])

    @router.post("/users")
    async def add_user(request: Request) -> Response:
        user = await signed(request)
        if not user.administrator:  # the right first, then the body
            raise Refused(user.username)
        form = await form_of(request)
        typed = {"username": form.one("username", 64), "role": form.one("role", 16)}
        try:
            await call(signing.add_user, accounts, user, typed["username"], form.one("password", 300), typed["role"])
        except UserProblems as bad:
            return await users_page(request, user, 400, typed=typed, problems={f: (m, {}) for f, m in bad.problems.items()})
        return see("/users?done=added")

    for path, disabled in (("disable", True), ("enable", False)):
        def switch(disabled: bool = disabled) -> Any:
            async def set_disabled(request: Request, username: str) -> Response:
                user = await signed(request)
                await call(signing.set_disabled, accounts, user, _record(username, USERNAME), disabled)
                return see(f"/users?done={'disabled' if disabled else 'enabled'}")
            return set_disabled
        router.add_api_route(f"/users/{{username}}/{path}", switch(), methods=["POST"])

    @router.get("/password")
    async def password_page(request: Request, done: bool = False) -> Response:
        await signed(request)
        return render(request, "password.html", done=done)

    @router.post("/password")
    async def change_password(request: Request) -> Response:
        user = await signed(request)
        form = await form_of(request)
        try:
            await call(signing.change_password, accounts, user, form.one("current_password", 300),
                       form.one("new_password", 300), form.one("repeat_password", 300))
        except UserProblems as bad:
            return render(request, "password.html", 400, problems={f: (m, {}) for f, m in bad.problems.items()})
        return see("/password?done=1")

    return router


def _flash(value: str | None, session_id: str) -> dict[str, str] | None:
    """The new key carried from the POST, only to the session that created it."""
    if not value:
        return None
    created = json.loads(value)
    return created if created.get("session") == _digest(session_id) else None


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()[:32]


def _blank_offering() -> dict[str, Any]:
    return {"household_categories": [], "colours": [], "districts": [], "disability_required": False,
            "registered_residence_required": False, "confirm_every_days": "30", "programme": "", "category": "", "kind": ""}



# Codes the pages show translated (`_(code)`): listed here so extraction finds them.
CODE_LABELS = (
    N_("pending"), N_("approved"), N_("refused"),
    N_("charity"), N_("foundation"), N_("company"), N_("social_work_agency"), N_("volunteer_group"),
    N_("open"), N_("stale"), N_("closed"), N_("withdrawn"), N_("exhausted"), N_("expired"),
    N_("goods"), N_("cash"), N_("service"), N_("place"),
    N_("basic_living"), N_("medical"), N_("education"), N_("housing"), N_("employment"), N_("emergency"),
    N_("disability"), N_("food"), N_("care"),
    N_("dibao"), N_("low_income"), N_("extreme_poverty"), N_("expenditure_poverty"), N_("marginal"),
    N_("red"), N_("orange"), N_("yellow"), N_("green"),
    N_("requested"), N_("accepted"), N_("rejected"), N_("in-progress"), N_("completed"), N_("failed"), N_("cancelled"),
    N_("no_capacity"), N_("outside_area"), N_("not_eligible"), N_("unreachable"), N_("other"),
    N_("deadline_passed"), N_("expired_by_matching"), N_("offering_withdrawn"), N_("offering_closed"), N_("offering_stale"),
    N_("need_closed"), N_("need_met"), N_("household_served"),
    N_("administrator"), N_("volunteer"),
)
