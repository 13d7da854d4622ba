"""A working day on the phone (issue 13): cards of live calls only, ended calls in "Recent
calls", the telephone in its own column that covers neither the navigation nor the page,
after-call work with a timer that ends by itself, in English and in Polish.

Chromium against uvicorn serving the ASGI app (see test_screen_pop.py), at 1366x768.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from cti.models import AgentPresence, Call
from helpdesk.roles import Role
from tests.e2e.conftest import login, screenshot
from tests.e2e.test_screen_pop import post_event
from tests.factories import (
    PASSWORD,
    AgentExtensionFactory,
    CallQueueFactory,
    PbxFactory,
    PhoneNumberFactory,
    make_ticket,
    make_user,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 768}
CALLERS = (
    ("+48 22 555 01 01", "Anna Nowak"),
    ("+48 22 555 01 02", "Piotr Wiśniewski"),
    ("+48 22 555 01 03", "Katarzyna Wójcik"),
)


@pytest.fixture
def desk(first_line):
    """Alice (extension 201) and Bob, available, in one queue; three known callers."""
    alice = make_user(Role.AGENT, username="alice", first_name="Alice", last_name="Agent")
    bob = make_user(Role.AGENT, username="bob", first_name="Bob", last_name="Colleague")
    first_line.members.add(alice, bob)
    AgentExtensionFactory(user=alice, extension="201")
    AgentExtensionFactory(user=bob, extension="202")
    queue = CallQueueFactory()
    queue.members.add(alice, bob)
    AgentPresence.objects.create(user=alice, state=AgentPresence.State.AVAILABLE)
    AgentPresence.objects.create(user=bob, state=AgentPresence.State.AVAILABLE)
    callers = [PhoneNumberFactory(raw=raw, person__full_name=name).person for raw, name in CALLERS]
    make_ticket(caller=callers[0], title="VPN drops every hour")
    return {"alice": alice, "bob": bob, "callers": callers, "pbx": PbxFactory()}


def open_console(page, base_url: str, path: str = "/console/") -> None:
    login(page, base_url, "alice", PASSWORD)
    page.goto(f"{base_url}{path}")
    expect(page.locator("#cti-console")).to_have_attribute("data-connected", "true")


def play_call(page, base_url: str, pbx, call_id: str, number: str, *, answer: bool = True):
    """Ring Alice's phone, answer (or not) and hang up, checking the live cards each time."""
    live = page.locator("#cti-cards .cti-card")
    post_event(base_url, pbx, event="ring", call_id=call_id, extension="201", **{"from": number})
    expect(page.locator(".cti-card[data-call-state=ringing]")).to_be_visible()
    expect(live).to_have_count(1)
    if answer:
        post_event(base_url, pbx, event="answer", call_id=call_id, answered_by="201")
        expect(page.locator(".cti-card[data-call-state=answered]")).to_be_visible()
        expect(live).to_have_count(1)
    cause = "normalClearing" if answer else "cancel"
    post_event(base_url, pbx, event="hangup", call_id=call_id, cause=cause)
    call = Call.objects.get(call_id=call_id)
    expect(page.locator(f'.cti-recent__item[data-call-id="{call.pk}"]')).to_be_visible()
    expect(live).to_have_count(0)


def uncovered(page, locator) -> bool:
    """Whether the element is what the browser finds at its centre (nothing lies on it)."""
    locator.scroll_into_view_if_needed()
    return locator.evaluate(
        """(element) => {
          const box = element.getBoundingClientRect();
          const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
          return hit !== null && (hit === element || element.contains(hit));
        }"""
    )


def assert_navigation_clickable(page) -> None:
    nav = page.locator("nav.navbar")
    for control in (
        nav.get_by_test_id("user-menu"),  # the account's pages and signing out
        nav.locator("a[href='/console/new/']"),
    ):
        control.click(trial=True, timeout=3000)  # fails when something covers it
        assert uncovered(page, control)


def test_three_calls_in_a_row_leave_no_pile_of_cards_and_the_navigation_free(
    desk, asgi_server, new_page
):
    page = new_page(viewport=LAPTOP)
    open_console(page, asgi_server)
    for index, (number, _name) in enumerate(CALLERS):
        play_call(page, asgi_server, desk["pbx"], f"day-{index}", number)
        assert_navigation_clickable(page)
    recent = page.locator(".cti-recent__item")
    expect(recent).to_have_count(3)
    # Newest first, each with the caller, the outcome, a call back and a new ticket.
    expect(recent.nth(0).locator(".cti-recent__caller")).to_have_text("Katarzyna Wójcik")
    expect(recent.nth(2).locator(".cti-recent__caller")).to_have_text("Anna Nowak")
    expect(recent.nth(0).locator(".cti-recent__outcome")).to_have_text("Answered")
    expect(recent.nth(0).locator(".cti-recent__call-back")).to_have_attribute(
        "href", "tel:+48225550103"
    )
    new_ticket = recent.nth(0).locator(".cti-recent__new-ticket")
    expect(new_ticket).to_have_attribute("href", f"/console/new/?caller={desk['callers'][2].pk}")
    # A fourth call rings: its card is the only one, above the recent calls.
    post_event(
        asgi_server,
        desk["pbx"],
        event="ring",
        call_id="day-3",
        extension="201",
        **{"from": CALLERS[0][0]},
    )
    expect(page.locator("#cti-cards .cti-card")).to_have_count(1)
    assert_navigation_clickable(page)
    # The queue's cells are all left of the telephone's column.
    dock = page.locator("#cti-console").bounding_box()
    main = page.locator("main").bounding_box()
    assert main["x"] + main["width"] <= dock["x"] + 1
    page.wait_for_timeout(400)  # the pop-in animation
    screenshot(page, "cti-three-calls-1366-en", full_page=False)
    # The list is the server's: the same after a reload.
    page.reload()
    expect(page.locator(".cti-recent__item")).to_have_count(3)
    expect(page.locator("#cti-cards .cti-card")).to_have_count(1)
    # The skip link still shows at the top when focused (the page is a grid now).
    page.keyboard.press("Tab")
    skip = page.locator("a.visually-hidden-focusable")
    expect(skip).to_be_focused()
    assert skip.bounding_box()["y"] < 60


def test_three_calls_in_polish(desk, asgi_server, new_page):
    alice = desk["alice"]
    alice.person.language = "pl"
    alice.person.save(update_fields=["language"])
    page = new_page(viewport=LAPTOP, locale="pl-PL")
    open_console(page, asgi_server)
    expect(page.locator("html")).to_have_attribute("lang", "pl")
    link = page.locator(".cti-console__link")
    expect(link).to_have_text("Telefon połączony")
    assert link.evaluate("(element) => element.scrollWidth <= element.clientWidth")
    play_call(page, asgi_server, desk["pbx"], "pl-0", CALLERS[0][0])
    play_call(page, asgi_server, desk["pbx"], "pl-1", CALLERS[1][0], answer=False)
    play_call(page, asgi_server, desk["pbx"], "pl-2", CALLERS[2][0])
    recent = page.locator(".cti-recent__item")
    expect(recent).to_have_count(3)
    missed = page.locator(".cti-recent__item--missed")
    expect(missed).to_have_count(1)
    expect(missed.locator(".cti-recent__outcome")).to_have_text(re.compile("Nieodebrane|Porzucone"))
    expect(missed.locator(".cti-recent__call-back")).to_have_text("Oddzwoń")
    expect(page.get_by_role("heading", name="Ostatnie połączenia")).to_be_visible()
    # The team list in Polish, whatever language the server's message was in.
    page.locator(".cti-console__team summary").click()
    expect(
        page.locator(f'.cti-console__team-list li[data-user-id="{desk["bob"].pk}"]')
    ).to_contain_text("Dostępny")
    page.locator(".cti-console__team summary").click()
    assert_navigation_clickable(page)
    page.wait_for_timeout(400)
    screenshot(page, "cti-three-calls-1366-pl", full_page=False)
    # The call log's call-back button says what it does, and its agent filter names people.
    page.goto(f"{asgi_server}/cti/calls/")
    expect(page.locator("a[href='tel:+48225550101']").first).to_have_text("Zadzwoń")
    expect(page.locator("#id_agent option", has_text="Alice Agent")).to_have_count(1)


def test_a_missed_call_stays_in_recent_calls(desk, asgi_server, new_page):
    page = new_page(viewport=LAPTOP)
    open_console(page, asgi_server)
    play_call(page, asgi_server, desk["pbx"], "missed-1", CALLERS[1][0], answer=False)
    call = Call.objects.get(call_id="missed-1")
    item = page.locator(f'.cti-recent__item[data-call-id="{call.pk}"]')
    expect(item).to_have_class(re.compile("cti-recent__item--unhandled"))
    expect(item.locator(".cti-recent__outcome")).to_have_text(call.get_outcome_display())
    page.wait_for_timeout(5500)
    expect(item).to_be_visible()
    assert item.evaluate("(element) => getComputedStyle(element).opacity") == "1"
    screenshot(page, "cti-missed-call-recent", full_page=False)
    # Done: handled, still listed, no longer highlighted.
    item.locator(".cti-recent__done").click()
    page.wait_for_load_state()
    item = page.locator(f'.cti-recent__item[data-call-id="{call.pk}"]')
    expect(item).to_be_visible()
    expect(item).not_to_have_class(re.compile("cti-recent__item--unhandled"))
    call.refresh_from_db()
    assert call.missed_handled_by == desk["alice"]


def test_the_telephone_covers_nothing_of_the_ticket_page_or_the_queue(desk, asgi_server, new_page):
    ticket = make_ticket(caller=desk["callers"][0], title="Printer jams")
    for index in range(25):
        make_ticket(caller=desk["callers"][index % 3], title=f"Queue filler {index}")
    page = new_page(viewport=LAPTOP)
    open_console(page, asgi_server, f"/console/tickets/{ticket.number}/")
    post_event(
        asgi_server,
        desk["pbx"],
        event="ring",
        call_id="t-1",
        extension="201",
        **{"from": CALLERS[0][0]},
    )
    expect(page.locator(".cti-card[data-call-state=ringing]")).to_be_visible()
    save = page.get_by_role("button", name="Save classification")
    save.click(trial=True, timeout=3000)
    assert uncovered(page, save)
    screenshot(page, "cti-ticket-page-1366", full_page=False)

    page.goto(f"{asgi_server}/console/?queue=all")
    expect(page.locator(".cti-card[data-call-state=ringing]")).to_be_visible()
    cells = page.locator("main table tbody tr td")
    assert cells.count() > 20
    covered = page.evaluate(
        """() => Array.from(document.querySelectorAll("main table tbody tr td"))
          .filter((cell) => {
            const box = cell.getBoundingClientRect();
            if (box.width === 0 || box.top < 0 || box.bottom > window.innerHeight) { return false; }
            const hit = document.elementFromPoint(
              box.left + box.width / 2, box.top + box.height / 2);
            return !(hit && (hit === cell || cell.contains(hit)));
          }).length"""
    )
    assert covered == 0


def test_after_call_work_shows_a_timer_and_ends_by_itself(desk, asgi_server, new_page, settings):
    settings.CTI_AFTER_CALL_WORK_SECONDS = 4
    page = new_page(viewport=LAPTOP)
    open_console(page, asgi_server)
    presence = page.locator("#cti-presence")
    expect(presence).to_have_value("available")
    play_call(page, asgi_server, desk["pbx"], "acw-1", CALLERS[0][0])
    timer = page.locator(".cti-console__after-call-work")
    expect(presence).to_have_value("after_call_work")
    expect(timer).to_be_visible()
    expect(timer).to_have_text(re.compile(r"^After-call work 0:0[0-3]$"))
    expect(timer).to_have_text(re.compile(r"^After-call work 0:0[1-4]$"))  # it runs
    screenshot(page, "cti-after-call-work", full_page=False)
    expect(presence).to_have_value("available", timeout=10_000)
    expect(timer).to_be_hidden()
    assert AgentPresence.objects.get(user=desk["alice"]).state == AgentPresence.State.AVAILABLE


def test_on_a_phone_the_telephone_is_a_bar_at_the_bottom_that_a_ring_opens(
    desk, asgi_server, new_page
):
    from tests.e2e.conftest import PHONE

    page = new_page(viewport=PHONE)
    open_console(page, asgi_server)
    console = page.locator("#cti-console")
    expect(console).to_have_class(re.compile("cti-console--collapsed"))
    box = console.bounding_box()
    assert abs(box["y"] + box["height"] - PHONE["height"]) <= 1  # at the bottom of the window
    page.locator(".navbar-toggler").click(trial=True, timeout=3000)
    post_event(
        asgi_server,
        desk["pbx"],
        event="ring",
        call_id="phone-1",
        extension="201",
        **{"from": CALLERS[0][0]},
    )
    card = page.locator(".cti-card[data-call-state=ringing]")
    expect(card).to_be_visible()
    expect(console).not_to_have_class(re.compile("cti-console--collapsed"))
    page.locator(".navbar-toggler").click(trial=True, timeout=3000)
    page.wait_for_timeout(400)
    screenshot(page, "cti-phone-ringing", full_page=False)
    page.locator(".cti-console__toggle").click()
    expect(card).to_be_hidden()
    expect(page.locator(".cti-console__toggle-count")).to_have_text("1")


def test_a_card_being_typed_into_stays_after_the_hang_up_and_a_recent_call_opens_its_card(
    desk, asgi_server, new_page
):
    page = new_page(viewport=LAPTOP)
    open_console(page, asgi_server)
    pbx = desk["pbx"]
    post_event(
        asgi_server, pbx, event="ring", call_id="typed", extension="201", **{"from": CALLERS[0][0]}
    )
    post_event(asgi_server, pbx, event="answer", call_id="typed", answered_by="201")
    card = page.locator(".cti-card[data-call-state=answered]")
    card.locator("input[name=title]").fill("Monitor flickers")
    post_event(asgi_server, pbx, event="hangup", call_id="typed", cause="normalClearing")
    call = Call.objects.get(call_id="typed")
    expect(page.locator(f'.cti-recent__item[data-call-id="{call.pk}"]')).to_be_visible()
    kept = page.locator(f'#cti-cards .cti-card[data-call-id="{call.pk}"]')
    expect(kept).to_have_attribute("data-call-state", "ended")
    expect(kept.locator("input[name=title]")).to_have_value("Monitor flickers")
    kept.locator(".cti-card__dismiss").click()
    expect(page.locator("#cti-cards .cti-card")).to_have_count(0)
    # The recent call's card, to file a ticket linked to the call after all.
    item = page.locator(f'.cti-recent__item[data-call-id="{call.pk}"]')
    item.locator(".cti-recent__card").click()
    opened = item.locator(".cti-card")
    expect(opened).to_be_visible()
    opened.locator("input[name=title]").fill("Monitor flickers")
    # Another call ends meanwhile: the recent list reloads, the opened card and its text stay.
    post_event(
        asgi_server, pbx, event="ring", call_id="other", extension="201", **{"from": CALLERS[1][0]}
    )
    post_event(asgi_server, pbx, event="hangup", call_id="other", cause="cancel")
    other = Call.objects.get(call_id="other")
    expect(page.locator(f'.cti-recent__item[data-call-id="{other.pk}"]')).to_be_visible()
    expect(opened.locator("input[name=title]")).to_have_value("Monitor flickers")
    opened.locator("button.cti-create-ticket").click()
    page.wait_for_url("**/tickets/**")
    assert call.tickets.get().title == "Monitor flickers"
