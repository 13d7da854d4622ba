"""Slots in the shared page layout that other apps fill without the layout importing them.

An app registers a template in its ``AppConfig.ready``; the base template renders every
registered template for that slot with ``{% render_slot "console_widgets" %}``. Slots:

- ``console_widgets``: rendered on every agent console page (the CTI screen pop lives here)
- ``home_notices``: rendered on the portal home page (the bulletin board, later)
- ``ticket_sidebar``: rendered on the agent ticket page, with ``ticket`` in the context
- ``portal_ticket_sidebar``: rendered on the caller's (portal) ticket page, with ``ticket``
- ``portal_ticket_create``: rendered under the title of the portal's new-ticket form (the
  knowledge base's suggestions; the outages app's "we know" for the service picked)
- ``page_notices``: rendered at the top of every page's content, portal and console (the
  outages app's banner and console notice)
- ``phone_tools``: rendered in the telephone widget beside the call cards, on every console
  page, with the page's context (``ticket`` on a ticket's page): the knowledge base's quick
  search, for answers while the caller is on the line, and the scripts of the open ticket.
  An element with ``data-cti-card-tool="<url>"`` in it adds to every call card: the console
  script asks ``<url>?tickets=<the caller's open ticket numbers>`` once the call is answered
  and puts the fragment under the card's open tickets (the diagnostic scripts offered)
- ``queue_bulk_actions``: rendered after "Apply" in the console queue's bulk action bar,
  inside its form (the outages app's "Attach to outage…", a button with its own
  ``formaction``)
"""

from __future__ import annotations

from collections import defaultdict

_slots: dict[str, list[str]] = defaultdict(list)


def register_template(slot: str, template_name: str) -> None:
    if template_name not in _slots[slot]:
        _slots[slot].append(template_name)


def slot_templates(slot: str) -> list[str]:
    return list(_slots.get(slot, []))
