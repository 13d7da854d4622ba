"""Who may use what: the expected answer of every page, API operation and websocket route,
for every role. ``tests/test_access_matrix.py`` checks the application against it, and fails
for any route of the URL configuration, operation of the OpenAPI schema or websocket route
that has no entry here: a new endpoint ships with a decision about who may use it.

The decisions behind the table are written out in ``docs/roles.md``.

Paths name objects of the test's world (``tests/test_access_matrix.py``, ``world``):
``{own}`` is a ticket whose caller is ``end_user`` (with a public reply, an internal note
and an attachment), ``{attachment}`` its attachment, ``{call}`` a call that rang only
``agent``, ``{token}`` an API token of ``end_user`` ... ``other_end_user`` is the second end
user: every object of ``end_user`` is a 404 to them.

A new app adds its pages and operations here, and the objects of its own (a change, a
survey, an article) to the world, owned by ``end_user`` where an end user owns them, so that
``other_end_user`` is checked to get a 404 for them too.

Expected answers: a status code; ``LOGIN`` a redirect to the sign-in page; ``ADMIN_LOGIN``
a redirect to the admin's sign-in page; for websockets ``ACCEPT`` or the close code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = (
    "anonymous",
    "end_user",
    "other_end_user",
    "agent",
    "engineer",
    "change_board",
    "manager",
    "admin",
)

LOGIN = "login"
ADMIN_LOGIN = "admin-login"
ACCEPT = "accept"
CLOSE_FORBIDDEN = 4403

# Groups of roles, widest first: a narrower group given to ``expect`` wins over a wider one.
GROUPS = {
    "everyone": ROLES,
    "signed_in": ROLES[1:],
    "end_users": ("end_user", "other_end_user"),
    "staff": ("agent", "engineer", "change_board", "manager", "admin"),
    "workers": ("agent", "engineer", "manager", "admin"),
}


def expect(**given) -> dict[str, object]:
    """The answer per role from answers per group or role; every role must get one."""
    table: dict[str, object] = {}
    for group, roles in GROUPS.items():
        if group in given:
            table.update(dict.fromkeys(roles, given[group]))
    for role in ROLES:
        if role in given:
            table[role] = given[role]
    unknown = set(given) - set(GROUPS) - set(ROLES)
    assert not unknown, f"unknown roles or groups: {unknown}"
    missing = set(ROLES) - set(table)
    assert not missing, f"no answer for {missing}"
    return table


@dataclass(frozen=True)
class Probe:
    """One request and the answer each role gets."""

    method: str
    path: str
    expected: dict[str, object]
    data: dict | None = None
    # "form" for pages, "json" or "multipart" for the API.
    format: str = "form"
    headers: dict = field(default_factory=dict)


# Recurring answers.
SIGNED_IN_PAGE = expect(anonymous=LOGIN, signed_in=200)
CONSOLE_PAGE = expect(anonymous=LOGIN, end_users=403, staff=200)
WORKER_PAGE = expect(anonymous=LOGIN, end_users=403, change_board=403, workers=200)
# A write from a console page or the caller card: done (or refused with a message) and back.
WORKER_WRITE = expect(anonymous=LOGIN, end_users=403, change_board=403, workers=302)
# A saved view of ``agent``: theirs to use, a 404 to the rest of staff.
OWN_SAVED_VIEW = expect(anonymous=LOGIN, end_users=403, staff=404, agent=302)
SCRIPT_EDITOR_PAGE = expect(
    anonymous=LOGIN, end_users=403, change_board=403, agent=403, workers=200
)
REPORTS_PAGE = expect(anonymous=LOGIN, signed_in=403, manager=200, admin=200)
PUBLIC = expect(everyone=200)
# Telephone systems authenticate with the PBX's token or signature, never as a user.
MACHINE = expect(everyone=401)
API_SIGNED_IN = expect(anonymous=401, signed_in=200)
API_OWN_OBJECT = expect(anonymous=401, end_user=200, other_end_user=404, staff=200)
API_ADMIN_WRITE = {"anonymous": 401, **dict.fromkeys(ROLES[1:], 403)}


# --- pages, by URL name -----------------------------------------------------------------
# The admin is one entry (key "admin:*"): it answers alike for all its URLs; the probes
# sample its index, a change list and a change form of each app, and its login page.

PAGES: dict[str, list[Probe]] = {
    "healthz": [Probe("GET", "/healthz", PUBLIC)],
    "favicon": [Probe("GET", "/favicon.ico", expect(everyone=302))],
    "admin:*": [
        Probe("GET", "/admin/", expect(everyone=ADMIN_LOGIN, admin=200)),
        Probe("GET", "/admin/tickets/ticket/", expect(everyone=ADMIN_LOGIN, admin=200)),
        Probe(
            "GET",
            "/admin/tickets/ticket/{own_id}/change/",
            expect(everyone=ADMIN_LOGIN, admin=200),
        ),
        Probe("GET", "/admin/auth/user/", expect(everyone=ADMIN_LOGIN, admin=200)),
        Probe("GET", "/admin/helpdesk/person/", expect(everyone=ADMIN_LOGIN, admin=200)),
        Probe("GET", "/admin/cti/call/", expect(everyone=ADMIN_LOGIN, admin=200)),
        Probe("GET", "/admin/cti/pbx/{pbx}/change/", expect(everyone=ADMIN_LOGIN, admin=200)),
        Probe("GET", "/admin/mail/mailbox/", expect(everyone=ADMIN_LOGIN, admin=200)),
        Probe("GET", "/admin/axes/accessattempt/", expect(everyone=ADMIN_LOGIN, admin=200)),
        # Signed in without admin rights: the admin's login page says so (200).
        Probe("GET", "/admin/login/", expect(everyone=200, admin=302)),
    ],
    "api-schema": [Probe("GET", "/api/schema/", PUBLIC)],
    "api-docs": [Probe("GET", "/api/docs/", PUBLIC)],
    # PBX endpoints: a wrong token is refused whoever is signed in in the browser.
    "cti-zammad": [
        Probe("POST", "/api/v1/cti/not-the-token", MACHINE, data={"event": "newCall"}),
    ],
    "cti-route": [Probe("GET", "/api/v1/cti/not-the-token/route?from=123", MACHINE)],
    # The voice menu asks with the PBX's token too (X-Helpdesk-Token or ?token=).
    "ivr-announcement": [Probe("GET", "/api/v1/ivr/announcement?from=123", MACHINE)],
    # Mass outages: managed by those who work tickets; every signed-in user reads the
    # notices, sees the outage of a service on the new-ticket form and adds themselves
    # (docs/outages.md). Writes with an empty form are refused with a message (302).
    "outages:list": [Probe("GET", "/outages/?state=active", WORKER_PAGE)],
    "outages:new": [Probe("GET", "/outages/new/", WORKER_PAGE)],
    "outages:detail": [Probe("GET", "/outages/{outage}/", WORKER_PAGE)],
    "outages:update": [Probe("POST", "/outages/{outage}/update/", WORKER_WRITE, data={})],
    "outages:link": [Probe("POST", "/outages/{outage}/link/", WORKER_WRITE, data={})],
    "outages:resolve": [Probe("POST", "/outages/{outage}/resolve/", WORKER_WRITE, data={})],
    "outages:cancel": [Probe("POST", "/outages/{outage}/cancel/", WORKER_WRITE, data={})],
    "outages:attach": [Probe("POST", "/outages/attach/", WORKER_WRITE, data={})],
    "outages:suggestion_dismiss": [
        Probe(
            "POST",
            "/outages/suggestions/999999/dismiss/",
            expect(anonymous=LOGIN, end_users=403, change_board=403, workers=404),
        )
    ],
    "outages:notices": [Probe("GET", "/outages/notices/", SIGNED_IN_PAGE)],
    "outages:for_service": [
        Probe("GET", "/outages/for-service/?service={service}", SIGNED_IN_PAGE)
    ],
    "outages:join": [
        Probe("POST", "/outages/{outage}/join/", expect(anonymous=LOGIN, signed_in=302))
    ],
    "cti:webhook": [
        Probe(
            "POST",
            "/cti/webhook/{pbx}/",
            MACHINE,
            data={"event": "ring", "call_id": "matrix-1", "from": "+48225550199"},
            format="json",
        ),
    ],
    # The call log is shared by everyone who works tickets (docs/roles.md).
    "cti:call_log": [Probe("GET", "/cti/calls/", WORKER_PAGE)],
    "cti:missed_handled": [
        Probe("POST", "/cti/calls/missed/handled/", WORKER_WRITE, data={"calls": ["{call}"]})
    ],
    "cti:call_card": [Probe("GET", "/cti/calls/{call}/card/", WORKER_PAGE)],
    "cti:recent_calls": [Probe("GET", "/cti/calls/recent/", WORKER_PAGE)],
    "cti:call_candidates": [Probe("GET", "/cti/calls/{call}/candidates/?q=a", WORKER_PAGE)],
    "cti:call_ticket_create": [
        Probe("POST", "/cti/calls/{call}/ticket/", WORKER_WRITE, data={"title": "No network"})
    ],
    "cti:call_ticket_link": [
        Probe("POST", "/cti/calls/{call}/link/", WORKER_WRITE, data={"number": "{own}"})
    ],
    "cti:call_caller_set": [
        Probe(
            "POST", "/cti/calls/{call}/caller/", WORKER_WRITE, data={"person": "{end_user_person}"}
        )
    ],
    "cti:call_person_create": [
        Probe("POST", "/cti/calls/{call}/person/", WORKER_WRITE, data={"full_name": "New Caller"})
    ],
    "cti:call_number_attach": [
        Probe("POST", "/cti/calls/{call}/attach/", WORKER_WRITE, data={"person": "nobody"})
    ],
    "cti:call_dial": [Probe("POST", "/cti/calls/{call}/dial/", WORKER_WRITE)],
    "cti:call_end": [Probe("POST", "/cti/calls/{call}/end/", WORKER_WRITE)],
    # The supervisors' wallboard (docs/roles.md): managers and administrators only.
    "cti:wallboard": [Probe("GET", "/cti/wallboard/", REPORTS_PAGE)],
    "cti:wallboard_presence_set": [
        Probe(
            "POST",
            "/cti/wallboard/agents/{agent_id}/presence/",
            REPORTS_PAGE,
            data={"state": "away"},
        )
    ],
    # Managers' reports (tickets.view_reports): managers and administrators only.
    "sla:dashboard": [
        Probe("GET", "/sla/dashboard/", REPORTS_PAGE),
        Probe("GET", "/sla/dashboard/?format=csv&table=backlog", REPORTS_PAGE),
    ],
    "sla:weekly_subscription": [
        Probe(
            "POST",
            "/sla/dashboard/weekly-summary/",
            expect(anonymous=LOGIN, signed_in=403, manager=302, admin=302),
            data={"period": "7d"},
        )
    ],
    # Survey results and their follow-up notes: managers and administrators (docs/roles.md).
    "surveys:results": [Probe("GET", "/surveys/results/", REPORTS_PAGE)],
    "surveys:follow_up": [
        Probe(
            "POST",
            "/surveys/results/999999/follow-up/",
            expect(anonymous=LOGIN, signed_in=403, manager=404, admin=404),
            data={"note": "Called back"},
        )
    ],
    # The survey opens from its signed link without signing in; an altered link is a 400
    # page to everyone (tests/surveys/test_surveys.py opens real and expired links).
    "surveys:answer": [Probe("GET", "/surveys/s/not-a-signed-link/", expect(everyone=400))],
    # Calendar programs authenticate with the secret in the feed's URL, never a session: an
    # unknown or revoked key is a 404 to everyone (tests/changes/test_feed.py reads a real one).
    "changes:calendar_feed": [Probe("GET", "/changes/feed/not-a-key.ics", expect(everyone=404))],
    # Change pages (docs/roles.md "Changes"): ``{own_change}`` is a draft requested by
    # ``end_user``. Every signed-in user has the list, the board, the calendar and the feed
    # page, each showing what they may see; a change of someone else is a 404 to an end user.
    "changes:list": [Probe("GET", "/changes/?state=draft&sort=-risk", SIGNED_IN_PAGE)],
    "changes:new": [Probe("GET", "/changes/new/", SIGNED_IN_PAGE)],
    "changes:board": [Probe("GET", "/changes/board/", SIGNED_IN_PAGE)],
    "changes:calendar": [
        Probe("GET", "/changes/calendar/", SIGNED_IN_PAGE),
        Probe("GET", "/changes/calendar/?view=week&date=2026-12-21", SIGNED_IN_PAGE),
    ],
    # Making a feed shows its address once (200); revoking is the owner's (others: 404).
    "changes:feed_tokens": [
        Probe("GET", "/changes/feed/", SIGNED_IN_PAGE),
        Probe("POST", "/changes/feed/", SIGNED_IN_PAGE),
    ],
    "changes:feed_token_revoke": [
        Probe(
            "POST",
            "/changes/feed/{feed}/revoke/",
            expect(anonymous=LOGIN, signed_in=404, end_user=302),
        )
    ],
    "changes:detail": [
        Probe(
            "GET",
            "/changes/{own_change}/",
            expect(anonymous=LOGIN, end_user=200, other_end_user=404, staff=200),
        )
    ],
    # The requester edits their draft, the workers until the work starts; the board never
    # (403). An empty form is a 400 with the fields' messages.
    "changes:edit": [
        Probe(
            "POST",
            "/changes/{own_change}/edit/",
            expect(
                anonymous=LOGIN, end_user=400, other_end_user=404, change_board=403, workers=400
            ),
            data={"title": ""},
        )
    ],
    "changes:comment": [
        Probe(
            "POST",
            "/changes/{own_change}/comment/",
            expect(anonymous=LOGIN, end_user=302, other_end_user=404, staff=302),
            data={"body": "When?"},
        )
    ],
    "changes:risk": [
        Probe(
            "GET",
            "/changes/{own_change}/risk/",
            expect(anonymous=LOGIN, end_users=403, change_board=403, workers=200),
        )
    ],
    # A draft asks nobody: every vote is refused with a message on the page it came from.
    "changes:vote": [
        Probe(
            "POST",
            "/changes/{own_change}/vote/",
            expect(anonymous=LOGIN, end_user=302, other_end_user=404, staff=302),
            data={"decision": "approve"},
        )
    ],
    # Transitions from the registry; one not open to the user is refused with a message.
    "changes:action": [
        Probe(
            "POST",
            "/changes/{own_change}/transitions/submit/",
            expect(anonymous=LOGIN, end_user=302, other_end_user=404, staff=302),
            data={"version": 1},
        ),
        Probe(
            "POST",
            "/changes/{own_change}/transitions/approve/",
            expect(anonymous=LOGIN, signed_in=404),
            data={"version": 1},
        ),
    ],
    # "This is a request for change" on the ticket page: the workers' button.
    "changes:from_ticket": [Probe("POST", "/changes/from-ticket/{own}/", WORKER_WRITE)],
    # Linking tickets and changes by hand: the workers (the requester sees the change: 403).
    "changes:link": [
        Probe(
            "POST",
            "/changes/{own_change}/links/",
            expect(
                anonymous=LOGIN, end_user=403, other_end_user=404, change_board=403, workers=302
            ),
            data={"number": "{own}"},
        )
    ],
    "changes:unlink": [
        Probe(
            "POST",
            "/changes/{own_change}/links/remove/",
            expect(
                anonymous=LOGIN, end_user=403, other_end_user=404, change_board=403, workers=302
            ),
            data={"number": "{own}"},
        )
    ],
    # Files of a change: whoever sees the change adds and downloads them; others a 404.
    "changes:attachment_upload": [
        Probe(
            "POST",
            "/changes/{own_change}/attachments/",
            expect(anonymous=LOGIN, end_user=302, other_end_user=404, staff=302),
            data={"file": "{png}"},
        )
    ],
    "changes:attachment": [
        Probe(
            "GET",
            "/changes/{own_change}/attachments/{change_attachment}/",
            expect(anonymous=LOGIN, end_user=200, other_end_user=404, staff=200),
        )
    ],
    # Knowledge base (docs/kb.md): ``{article}`` is published and public, ``{internal_article}``
    # published for staff, ``{draft_article}`` a draft. What a role may not read is a 404.
    "kb:index": [Probe("GET", "/kb/?q=vpn", SIGNED_IN_PAGE)],
    "kb:article": [
        Probe("GET", "/kb/{article}/", SIGNED_IN_PAGE),
        Probe("GET", "/kb/{internal_article}/", expect(anonymous=LOGIN, end_users=404, staff=200)),
        Probe(
            "GET",
            "/kb/{draft_article}/",
            expect(anonymous=LOGIN, end_users=404, change_board=404, workers=200),
        ),
    ],
    "kb:article_create": [Probe("GET", "/kb/new/", WORKER_PAGE)],
    "kb:article_edit": [Probe("GET", "/kb/{draft_article}/edit/", WORKER_PAGE)],
    "kb:article_history": [Probe("GET", "/kb/{article}/history/", WORKER_PAGE)],
    # A published article's pending revision: writers edit and submit it (managers publish;
    # a step not open to them is refused with a message: 302).
    "kb:revision_edit": [Probe("GET", "/kb/{article}/revision/", WORKER_PAGE)],
    "kb:revision_transition": [Probe("POST", "/kb/{article}/revision/submit/", WORKER_WRITE)],
    "kb:article_transition": [
        Probe(
            "POST",
            "/kb/{draft_article}/workflow/submit/",
            expect(anonymous=LOGIN, end_users=404, change_board=404, workers=302),
        )
    ],
    "kb:article_rate": [
        Probe(
            "POST",
            "/kb/{article}/rate/",
            expect(anonymous=LOGIN, signed_in=302),
            {"helpful": "yes"},
        )
    ],
    "kb:suggest": [Probe("GET", "/kb/suggest/?title=vpn", SIGNED_IN_PAGE)],
    "kb:deflect": [
        Probe("POST", "/kb/{article}/solved/", expect(anonymous=LOGIN, signed_in=302)),
        Probe(
            "POST",
            "/kb/{internal_article}/solved/",
            expect(anonymous=LOGIN, end_users=404, staff=302),
        ),
    ],
    "kb:stats": [Probe("GET", "/kb/stats/", REPORTS_PAGE)],
    # The bulletin board: everyone signed in reads what is for them; those who work tickets
    # post; the intranet's feeds are public (announcements for everyone only).
    "kb:announcements": [Probe("GET", "/kb/announcements/", SIGNED_IN_PAGE)],
    "kb:announcement": [
        Probe("GET", "/kb/announcements/{announcement}/", SIGNED_IN_PAGE),
        Probe(
            "GET",
            "/kb/announcements/{site_announcement}/",
            expect(anonymous=LOGIN, end_users=404, staff=200),
        ),
    ],
    "kb:announcement_create": [Probe("GET", "/kb/announcements/new/", WORKER_PAGE)],
    "kb:announcement_edit": [Probe("GET", "/kb/announcements/{announcement}/edit/", WORKER_PAGE)],
    "kb:announcement_end": [Probe("POST", "/kb/announcements/{announcement}/end/", WORKER_WRITE)],
    "kb:announcements_rss": [Probe("GET", "/kb/announcements/feed.rss", PUBLIC)],
    "kb:announcements_atom": [Probe("GET", "/kb/announcements/feed.atom", PUBLIC)],
    # Diagnostic scripts: run by workers, written by engineers (not first-line agents).
    "kb:scripts": [Probe("GET", "/kb/scripts/", WORKER_PAGE)],
    "kb:script": [Probe("GET", "/kb/scripts/{script}/", WORKER_PAGE)],
    "kb:script_create": [Probe("GET", "/kb/scripts/new/", SCRIPT_EDITOR_PAGE)],
    "kb:script_edit": [Probe("GET", "/kb/scripts/{script}/edit/", SCRIPT_EDITOR_PAGE)],
    "kb:script_step_add": [Probe("GET", "/kb/scripts/{script}/steps/new/", SCRIPT_EDITOR_PAGE)],
    "kb:script_step_edit": [Probe("GET", "/kb/scripts/{script}/steps/a/", SCRIPT_EDITOR_PAGE)],
    "kb:script_stats": [Probe("GET", "/kb/scripts/stats/", REPORTS_PAGE)],
    "kb:script_run_start": [
        Probe("POST", "/kb/tickets/{own}/script/", WORKER_WRITE, data={"script": "{script}"})
    ],
    "kb:scripts_for_card_tickets": [
        Probe("GET", "/kb/scripts/for-call-card/?tickets={own}", WORKER_PAGE)
    ],
    "kb:script_run": [Probe("GET", "/kb/scripts/runs/{script_run}/", WORKER_PAGE)],
    "kb:script_run_answer": [
        Probe("POST", "/kb/scripts/runs/{script_run}/answer/", WORKER_WRITE, data={"answer": "0"})
    ],
    "kb:script_run_abandon": [Probe("POST", "/kb/scripts/runs/{script_run}/stop/", WORKER_WRITE)],
    "kb:ticket_search": [Probe("GET", "/kb/tickets/{own}/search/?q=vpn", WORKER_PAGE)],
    "kb:phone_search": [Probe("GET", "/kb/phone/search/?q=vpn", WORKER_PAGE)],
    "kb:ticket_link": [
        Probe("POST", "/kb/tickets/{own}/link/", WORKER_WRITE, data={"article": "{article}"})
    ],
    "kb:ticket_unlink": [
        Probe("POST", "/kb/tickets/{own}/unlink/", WORKER_WRITE, data={"article": "{article}"})
    ],
    "mail:notification_settings": [Probe("GET", "/account/notifications/", SIGNED_IN_PAGE)],
    # Signed-in users are sent on from the login page.
    "login": [Probe("GET", "/accounts/login/", expect(anonymous=200, signed_in=302))],
    "logout": [
        Probe("POST", "/accounts/logout/", expect(everyone=LOGIN)),
        Probe("GET", "/accounts/logout/", expect(everyone=405)),
    ],
    "password_reset": [Probe("GET", "/accounts/password-reset/", PUBLIC)],
    "password_reset_done": [Probe("GET", "/accounts/password-reset/sent/", PUBLIC)],
    # A link that is not valid: the page says so.
    "password_reset_confirm": [
        Probe("GET", "/accounts/password-reset/MQ/not-a-token/", PUBLIC),
    ],
    "password_reset_complete": [Probe("GET", "/accounts/password-reset/done/", PUBLIC)],
    "set_language": [Probe("POST", "/language/", expect(everyone=302), data={"language": "en"})],
    "api_tokens": [Probe("GET", "/account/api-tokens/", SIGNED_IN_PAGE)],
    "api_token_revoke": [
        Probe(
            "POST",
            "/account/api-tokens/{token}/revoke/",
            expect(anonymous=LOGIN, end_user=302, other_end_user=404, staff=404),
        )
    ],
    # "/" sends staff where their work is (helpdesk.roles.landing_url); /portal/ is the
    # portal home for everyone signed in.
    "home": [Probe("GET", "/", expect(anonymous=LOGIN, end_users=200, staff=302))],
    "portal_home": [Probe("GET", "/portal/", SIGNED_IN_PAGE)],
    # The portal. Staff who are not the caller read tickets on the console (a redirect),
    # and may not reply as the caller (403).
    "tickets:attachment": [
        Probe(
            "GET",
            "/attachments/{attachment}/",
            expect(anonymous=LOGIN, end_user=200, other_end_user=404, staff=200),
        ),
        Probe(
            "GET",
            "/attachments/{internal_attachment}/",
            expect(anonymous=LOGIN, end_users=404, staff=200),
        ),
    ],
    "tickets:my_list": [Probe("GET", "/tickets/", SIGNED_IN_PAGE)],
    "tickets:create": [Probe("GET", "/tickets/new/", SIGNED_IN_PAGE)],
    "tickets:detail": [
        Probe(
            "GET",
            "/tickets/{own}/",
            expect(anonymous=LOGIN, end_user=200, other_end_user=404, staff=302),
        )
    ],
    "tickets:created": [
        Probe(
            "GET",
            "/tickets/{own}/filed/",
            expect(anonymous=LOGIN, end_user=200, other_end_user=404, staff=200),
        )
    ],
    "tickets:reply": [
        Probe(
            "POST",
            "/tickets/{own}/reply/",
            expect(anonymous=LOGIN, end_user=302, other_end_user=404, staff=403),
            data={"body": "Any news?"},
        )
    ],
    # Transitions from the portal: taken, or refused with a message on the ticket's page.
    "tickets:reopen": [
        Probe(
            "POST",
            "/tickets/{own}/reopen/",
            expect(anonymous=LOGIN, end_user=302, other_end_user=404, staff=302),
            data={"version": "1", "reason": "Still broken"},
        )
    ],
    "tickets:cancel": [
        Probe(
            "POST",
            "/tickets/{own}/cancel/",
            expect(anonymous=LOGIN, end_user=302, other_end_user=404, staff=302),
            data={"version": "1", "reason": "Works again"},
        )
    ],
    "tickets:close": [
        Probe(
            "POST",
            "/tickets/{own}/close/",
            expect(anonymous=LOGIN, end_user=302, other_end_user=404, staff=302),
            data={"version": "1"},
        )
    ],
    # The console: staff read, workers write; end users get 403 even for their own tickets.
    "tickets:console": [Probe("GET", "/console/", CONSOLE_PAGE)],
    "tickets:console_create": [Probe("GET", "/console/new/", WORKER_PAGE)],
    "tickets:caller_search": [Probe("GET", "/console/callers/?q=Stranger", WORKER_PAGE)],
    # The composer's helpers: staff (who may read the ticket) only.
    "tickets:colleague_search": [Probe("GET", "/console/colleagues/?q=ag", CONSOLE_PAGE)],
    "tickets:console_canned_reply": [
        Probe("GET", "/console/tickets/{own}/canned/{canned}/", CONSOLE_PAGE)
    ],
    "tickets:console_detail": [Probe("GET", "/console/tickets/{own}/", CONSOLE_PAGE)],
    "tickets:console_edit": [
        Probe(
            "POST",
            "/console/tickets/{own}/edit/",
            WORKER_WRITE,
            data={
                "version": "1",
                "title": "Printer on floor 3 does not print",
                "description": "Paper jam light is on.",
                "type": "incident",
                "impact": "3",
                "urgency": "1",
            },
        )
    ],
    "tickets:console_comment": [
        Probe(
            "POST",
            "/console/tickets/{own}/comment/",
            WORKER_WRITE,
            data={"body": "Checked the logs", "visibility": "internal"},
        )
    ],
    "tickets:console_action": [
        Probe("POST", "/console/tickets/{own}/start/", WORKER_WRITE, data={"version": "1"})
    ],
    # The ticket page's relations: workers link, watch and tag (a refusal is a message on
    # the page); staff read the tag suggestions.
    "tickets:link_add": [
        Probe("POST", "/console/tickets/{own}/links/add/", WORKER_WRITE, data={"number": "{own}"})
    ],
    "tickets:link_remove": [
        Probe(
            "POST", "/console/tickets/{own}/links/remove/", WORKER_WRITE, data={"number": "{own}"}
        )
    ],
    "tickets:watch": [Probe("POST", "/console/tickets/{own}/watchers/add/", WORKER_WRITE)],
    "tickets:unwatch": [Probe("POST", "/console/tickets/{own}/watchers/remove/", WORKER_WRITE)],
    "tickets:tags": [
        Probe("POST", "/console/tickets/{own}/tags/", WORKER_WRITE, data={"add": "vpn"})
    ],
    "tickets:tag_suggestions": [Probe("GET", "/console/tags/?q=v", CONSOLE_PAGE)],
    # The queue's tools: bulk actions for workers; saved views are each user's own (the
    # world's view belongs to ``agent``: every other member of staff gets a 404 for it).
    "tickets:console_bulk": [
        Probe(
            "POST",
            "/console/bulk/",
            WORKER_WRITE,
            data={"tickets": "{own_id}:1", "action": "start", "query": "queue=all"},
        )
    ],
    "tickets:saved_views": [
        Probe("GET", "/console/views/", CONSOLE_PAGE),
        Probe(
            "POST",
            "/console/views/",
            expect(anonymous=LOGIN, end_users=403, staff=302),
            data={"name": "Matrix", "query": "queue=all&sort=priority"},
        ),
    ],
    "tickets:saved_view_open": [Probe("GET", "/console/views/{saved_view}/", OWN_SAVED_VIEW)],
    "tickets:saved_view_rename": [
        Probe(
            "POST",
            "/console/views/{saved_view}/rename/",
            OWN_SAVED_VIEW,
            data={"name": "Renamed"},
        )
    ],
    "tickets:saved_view_delete": [
        Probe("POST", "/console/views/{saved_view}/delete/", OWN_SAVED_VIEW)
    ],
}


# --- API operations, keyed as in the OpenAPI schema ---------------------------------------

API: dict[str, list[Probe]] = {
    # Signing in for a token: the same 400 for a request without credentials, whoever asks.
    "POST /api/auth/token/": [
        Probe("POST", "/api/auth/token/", expect(everyone=400), data={}, format="json")
    ],
    # Signing a token out needs the token itself.
    "DELETE /api/auth/token/": [Probe("DELETE", "/api/auth/token/", expect(everyone=401))],
    "GET /api/auth/tokens/": [Probe("GET", "/api/auth/tokens/", API_SIGNED_IN)],
    "GET /api/auth/tokens/{id}/": [
        Probe(
            "GET", "/api/auth/tokens/{token}/", expect(anonymous=401, signed_in=404, end_user=200)
        )
    ],
    "DELETE /api/auth/tokens/{id}/": [
        Probe(
            "DELETE",
            "/api/auth/tokens/{token}/",
            expect(anonymous=401, signed_in=404, end_user=204),
        )
    ],
    # Reference data: everyone signed in reads it, administrators write it.
    "GET /api/categories/": [Probe("GET", "/api/categories/", API_SIGNED_IN)],
    "POST /api/categories/": [
        Probe(
            "POST",
            "/api/categories/",
            {**API_ADMIN_WRITE, "admin": 201},
            data={"name": "Printers"},
            format="json",
        )
    ],
    "GET /api/categories/{id}/": [Probe("GET", "/api/categories/{category}/", API_SIGNED_IN)],
    "PATCH /api/categories/{id}/": [
        Probe(
            "PATCH",
            "/api/categories/{category}/",
            {**API_ADMIN_WRITE, "admin": 200},
            data={"name": "Peripherals"},
            format="json",
        )
    ],
    "DELETE /api/categories/{id}/": [
        Probe("DELETE", "/api/categories/{category}/", {**API_ADMIN_WRITE, "admin": 204})
    ],
    "GET /api/groups/": [Probe("GET", "/api/groups/", API_SIGNED_IN)],
    "POST /api/groups/": [
        Probe(
            "POST",
            "/api/groups/",
            {**API_ADMIN_WRITE, "admin": 201},
            data={"name": "Access", "code": "access", "tier": 2},
            format="json",
        )
    ],
    "GET /api/groups/{id}/": [Probe("GET", "/api/groups/{group}/", API_SIGNED_IN)],
    "PATCH /api/groups/{id}/": [
        Probe(
            "PATCH",
            "/api/groups/{group}/",
            {**API_ADMIN_WRITE, "admin": 200},
            data={"email": "sd@example.com"},
            format="json",
        )
    ],
    "DELETE /api/groups/{id}/": [
        Probe("DELETE", "/api/groups/{spare_group}/", {**API_ADMIN_WRITE, "admin": 204})
    ],
    # The directory: staff only.
    "GET /api/people/": [
        Probe("GET", "/api/people/", expect(anonymous=401, end_users=403, staff=200)),
        # Finding a caller by phone number: the same door.
        Probe(
            "GET",
            "/api/people/?phone=%2B48225550123",
            expect(anonymous=401, end_users=403, staff=200),
        ),
    ],
    "GET /api/people/{id}/": [
        Probe("GET", "/api/people/{stranger}/", expect(anonymous=401, end_users=403, staff=200))
    ],
    "GET /api/services/": [Probe("GET", "/api/services/", API_SIGNED_IN)],
    "POST /api/services/": [
        Probe(
            "POST",
            "/api/services/",
            {**API_ADMIN_WRITE, "admin": 201},
            data={"name": "Printing", "owner_group": "{group}"},
            format="json",
        )
    ],
    "GET /api/services/{id}/": [Probe("GET", "/api/services/{service}/", API_SIGNED_IN)],
    "PATCH /api/services/{id}/": [
        Probe(
            "PATCH",
            "/api/services/{service}/",
            {**API_ADMIN_WRITE, "admin": 200},
            data={"criticality": "critical"},
            format="json",
        )
    ],
    "DELETE /api/services/{id}/": [
        Probe("DELETE", "/api/services/{service}/", {**API_ADMIN_WRITE, "admin": 204})
    ],
    # Changes (docs/roles.md "Changes"): ``{own_change}`` is a draft requested by ``end_user``.
    # Everyone requests changes for themselves; the requester edits, submits and withdraws
    # their draft; the change board reads every change and votes only when asked (a draft
    # asks nobody: 403); workers do the rest. Transitions not open on a draft are a 409.
    "GET /api/changes/": [Probe("GET", "/api/changes/", API_SIGNED_IN)],
    # Each user's own calendar feeds of changes; another user's is a 404.
    "GET /api/calendar-feeds/": [Probe("GET", "/api/calendar-feeds/", API_SIGNED_IN)],
    "POST /api/calendar-feeds/": [
        Probe("POST", "/api/calendar-feeds/", expect(anonymous=401, signed_in=201), format="json")
    ],
    "DELETE /api/calendar-feeds/{id}/": [
        Probe(
            "DELETE",
            "/api/calendar-feeds/{feed}/",
            expect(anonymous=401, signed_in=404, end_user=204),
        )
    ],
    "POST /api/changes/": [
        Probe(
            "POST",
            "/api/changes/",
            expect(anonymous=401, signed_in=201),
            data={"title": "A second screen"},
            format="json",
        )
    ],
    "GET /api/changes/{number}/": [Probe("GET", "/api/changes/{own_change}/", API_OWN_OBJECT)],
    "PATCH /api/changes/{number}/": [
        Probe(
            "PATCH",
            "/api/changes/{own_change}/",
            expect(anonymous=401, end_user=200, other_end_user=404, change_board=403, workers=200),
            data={"version": 1, "budget_line": "IT-2027"},
            format="json",
        )
    ],
    "GET /api/changes/{number}/timeline/": [
        Probe("GET", "/api/changes/{own_change}/timeline/", API_OWN_OBJECT)
    ],
    "POST /api/changes/{number}/votes/": [
        Probe(
            "POST",
            "/api/changes/{own_change}/votes/",
            expect(anonymous=401, end_user=403, other_end_user=404, staff=403),
            data={"decision": "approve"},
            format="json",
        )
    ],
    "GET /api/changes/{number}/attachments/": [
        Probe("GET", "/api/changes/{own_change}/attachments/", API_OWN_OBJECT)
    ],
    "POST /api/changes/{number}/attachments/": [
        Probe(
            "POST",
            "/api/changes/{own_change}/attachments/",
            expect(anonymous=401, end_user=201, other_end_user=404, staff=201),
            data={"file": "{png}"},
            format="multipart",
        )
    ],
    "POST /api/changes/{number}/transitions/submit/": [
        Probe(
            "POST",
            "/api/changes/{own_change}/transitions/submit/",
            expect(anonymous=401, end_user=200, other_end_user=404, change_board=409, workers=200),
            format="json",
        )
    ],
    "POST /api/changes/{number}/transitions/withdraw/": [
        Probe(
            "POST",
            "/api/changes/{own_change}/transitions/withdraw/",
            expect(anonymous=401, end_user=200, other_end_user=404, change_board=409, workers=200),
            format="json",
        )
    ],
    "POST /api/changes/{number}/transitions/assess/": [
        Probe(
            "POST",
            "/api/changes/{own_change}/transitions/assess/",
            expect(anonymous=401, end_user=409, other_end_user=404, staff=409),
            format="json",
        )
    ],
    "POST /api/changes/{number}/transitions/request_approval/": [
        Probe(
            "POST",
            "/api/changes/{own_change}/transitions/request_approval/",
            expect(anonymous=401, end_user=409, other_end_user=404, staff=409),
            format="json",
        )
    ],
    "POST /api/changes/{number}/transitions/schedule/": [
        Probe(
            "POST",
            "/api/changes/{own_change}/transitions/schedule/",
            expect(anonymous=401, end_user=409, other_end_user=404, staff=409),
            format="json",
        )
    ],
    "POST /api/changes/{number}/transitions/implement/": [
        Probe(
            "POST",
            "/api/changes/{own_change}/transitions/implement/",
            expect(anonymous=401, end_user=409, other_end_user=404, staff=409),
            format="json",
        )
    ],
    "POST /api/changes/{number}/transitions/finish/": [
        Probe(
            "POST",
            "/api/changes/{own_change}/transitions/finish/",
            expect(anonymous=401, end_user=409, other_end_user=404, staff=409),
            data={"code": "successful"},
            format="json",
        )
    ],
    "POST /api/changes/{number}/transitions/close/": [
        Probe(
            "POST",
            "/api/changes/{own_change}/transitions/close/",
            expect(anonymous=401, end_user=409, other_end_user=404, staff=409),
            format="json",
        )
    ],
    # Tickets: end users see and act on their own only (others' are a 404); the change
    # board reads every ticket and changes none; workers do the rest.
    "GET /api/tickets/": [Probe("GET", "/api/tickets/", API_SIGNED_IN)],
    "POST /api/tickets/": [
        Probe(
            "POST",
            "/api/tickets/",
            expect(anonymous=401, signed_in=201),
            data={"title": "Mouse broken", "caller": "{self_person}"},
            format="json",
        ),
        Probe(
            "POST",
            "/api/tickets/",
            expect(anonymous=401, end_users=400, change_board=400, workers=201),
            data={"title": "Mouse broken", "caller": "{stranger}"},
            format="json",
        ),
    ],
    "GET /api/tickets/{number}/": [Probe("GET", "/api/tickets/{own}/", API_OWN_OBJECT)],
    "PATCH /api/tickets/{number}/": [
        Probe(
            "PATCH",
            "/api/tickets/{own}/",
            expect(anonymous=401, end_user=403, other_end_user=404, change_board=403, workers=200),
            data={"version": 1, "urgency": 2},
            format="json",
        )
    ],
    "GET /api/tickets/{number}/attachments/": [
        Probe("GET", "/api/tickets/{own}/attachments/", API_OWN_OBJECT)
    ],
    "POST /api/tickets/{number}/attachments/": [
        Probe(
            "POST",
            "/api/tickets/{own}/attachments/",
            expect(anonymous=401, end_user=201, other_end_user=404, change_board=403, workers=201),
            data={"file": "{png}"},
            format="multipart",
        )
    ],
    "GET /api/tickets/{number}/comments/": [
        Probe("GET", "/api/tickets/{own}/comments/", API_OWN_OBJECT)
    ],
    "POST /api/tickets/{number}/comments/": [
        Probe(
            "POST",
            "/api/tickets/{own}/comments/",
            expect(anonymous=401, end_user=201, other_end_user=404, change_board=403, workers=201),
            data={"body": "Any news?"},
            format="json",
        ),
        Probe(
            "POST",
            "/api/tickets/{own}/comments/",
            expect(anonymous=401, end_user=400, other_end_user=404, change_board=400, workers=201),
            data={"body": "Checked the logs", "is_internal": True},
            format="json",
        ),
    ],
    "GET /api/tickets/{number}/timeline/": [
        Probe("GET", "/api/tickets/{own}/timeline/", API_OWN_OBJECT)
    ],
    # Transitions on a new ticket: 409 where the transition is not open to this user now.
    "POST /api/tickets/{number}/transitions/assign/": [
        Probe(
            "POST",
            "/api/tickets/{own}/transitions/assign/",
            expect(anonymous=401, end_user=409, other_end_user=404, change_board=409, workers=200),
            data={"assignee": "{agent_id}"},
            format="json",
        )
    ],
    "POST /api/tickets/{number}/transitions/cancel/": [
        Probe(
            "POST",
            "/api/tickets/{own}/transitions/cancel/",
            expect(anonymous=401, end_user=200, other_end_user=404, change_board=409, workers=200),
            data={"reason": "Works again"},
            format="json",
        )
    ],
    "POST /api/tickets/{number}/transitions/close/": [
        Probe(
            "POST",
            "/api/tickets/{own}/transitions/close/",
            expect(anonymous=401, end_user=409, other_end_user=404, staff=409),
            data={},
            format="json",
        )
    ],
    "POST /api/tickets/{number}/transitions/escalate/": [
        Probe(
            "POST",
            "/api/tickets/{own}/transitions/escalate/",
            expect(anonymous=401, end_user=409, other_end_user=404, change_board=409, workers=200),
            data={"group": "{network_group}", "notes": "Needs the network team"},
            format="json",
        )
    ],
    "POST /api/tickets/{number}/transitions/pend/": [
        Probe(
            "POST",
            "/api/tickets/{own}/transitions/pend/",
            expect(anonymous=401, end_user=409, other_end_user=404, staff=409),
            data={"reason": "caller"},
            format="json",
        )
    ],
    "POST /api/tickets/{number}/transitions/reopen/": [
        Probe(
            "POST",
            "/api/tickets/{own}/transitions/reopen/",
            expect(anonymous=401, end_user=409, other_end_user=404, staff=409),
            data={"reason": "Still broken"},
            format="json",
        )
    ],
    "POST /api/tickets/{number}/transitions/resolve/": [
        Probe(
            "POST",
            "/api/tickets/{own}/transitions/resolve/",
            expect(anonymous=401, end_user=409, other_end_user=404, change_board=409, workers=200),
            data={"code": "solved", "notes": "Reset the password"},
            format="json",
        )
    ],
    "POST /api/tickets/{number}/transitions/resume/": [
        Probe(
            "POST",
            "/api/tickets/{own}/transitions/resume/",
            expect(anonymous=401, end_user=409, other_end_user=404, staff=409),
            data={},
            format="json",
        )
    ],
    "POST /api/tickets/{number}/transitions/start/": [
        Probe(
            "POST",
            "/api/tickets/{own}/transitions/start/",
            expect(anonymous=401, end_user=409, other_end_user=404, change_board=409, workers=200),
            data={},
            format="json",
        )
    ],
    "POST /api/tickets/{number}/transitions/transfer/": [
        Probe(
            "POST",
            "/api/tickets/{own}/transitions/transfer/",
            expect(anonymous=401, end_user=409, other_end_user=404, change_board=409, workers=200),
            data={"group": "{network_group}", "reason": "Network fault"},
            format="json",
        )
    ],
    # Merging into itself: refused naming ``into`` (400) to those who may merge.
    "POST /api/tickets/{number}/transitions/merge/": [
        Probe(
            "POST",
            "/api/tickets/{own}/transitions/merge/",
            expect(anonymous=401, end_user=409, other_end_user=404, change_board=409, workers=400),
            data={"into": "{own}"},
            format="json",
        )
    ],
    # Knowledge base: the pages' rules (published public for end users, internal for staff).
    "GET /api/kb/articles/": [Probe("GET", "/api/kb/articles/", API_SIGNED_IN)],
    "GET /api/kb/articles/search/": [Probe("GET", "/api/kb/articles/search/?q=vpn", API_SIGNED_IN)],
    "GET /api/kb/articles/{id}/": [
        Probe("GET", "/api/kb/articles/{article}/", API_SIGNED_IN),
        Probe(
            "GET",
            "/api/kb/articles/{internal_article}/",
            expect(anonymous=401, end_users=404, staff=200),
        ),
    ],
    # Survey responses and results: managers and administrators, as the results page; a
    # response that does not exist is a 404 to them only (tests/surveys/test_api.py reads
    # and notes on real ones).
    "GET /api/surveys/responses/": [
        Probe(
            "GET",
            "/api/surveys/responses/",
            expect(anonymous=401, signed_in=403, manager=200, admin=200),
        )
    ],
    "GET /api/surveys/responses/{id}/": [
        Probe(
            "GET",
            "/api/surveys/responses/999999/",
            expect(anonymous=401, signed_in=403, manager=404, admin=404),
        )
    ],
    "PATCH /api/surveys/responses/{id}/": [
        Probe(
            "PATCH",
            "/api/surveys/responses/999999/",
            expect(anonymous=401, signed_in=403, manager=404, admin=404),
            data={"follow_up_note": "Called back"},
            format="json",
        )
    ],
    "GET /api/surveys/results/": [
        Probe(
            "GET",
            "/api/surveys/results/",
            expect(anonymous=401, signed_in=403, manager=200, admin=200),
        )
    ],
    # The block list: administrators (model permissions).
    "GET /cti/api/blocked-numbers/": [
        Probe("GET", "/cti/api/blocked-numbers/", {**API_ADMIN_WRITE, "admin": 200})
    ],
    "POST /cti/api/blocked-numbers/": [
        Probe(
            "POST",
            "/cti/api/blocked-numbers/",
            {**API_ADMIN_WRITE, "admin": 201},
            data={"number": "+48 22 555 09 09", "reason": "Spam"},
            format="json",
        )
    ],
    "DELETE /cti/api/blocked-numbers/{id}/": [
        Probe("DELETE", "/cti/api/blocked-numbers/{blocked}/", {**API_ADMIN_WRITE, "admin": 204})
    ],
}


# --- websocket routes -----------------------------------------------------------------

# The console's socket: everyone who works tickets (the change board reads the console
# without live calls: it answers none).
WEBSOCKETS: dict[str, dict[str, object]] = {
    "ws/console/": expect(everyone=CLOSE_FORBIDDEN, workers=ACCEPT),
    "ws/wallboard/": expect(everyone=CLOSE_FORBIDDEN, manager=ACCEPT, admin=ACCEPT),
}
