"""The bulletin board as RSS 2.0 and Atom 1.0 for the intranet's portal and feed readers.

Feed readers sign in to nothing: the feeds carry the announcements for everyone (those for
one site or department are read on the portal, signed in)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext_lazy as _

from kb import selectors

FEED_SIZE = 30


class AnnouncementsFeed(Feed):
    title = _("IT Help Desk: announcements")
    description = _("Notices about IT services: planned work, failures, changes.")

    def link(self):
        return reverse("kb:announcements")

    def items(self):
        return selectors.announcements_for(AnonymousUser())[:FEED_SIZE]

    def item_title(self, item):
        return f"[{item.get_severity_display()}] {item.title}"

    def item_description(self, item):
        return item.body_html

    def item_pubdate(self, item):
        return item.valid_from

    def item_updateddate(self, item):
        return item.updated_at

    def item_link(self, item):
        return item.get_absolute_url()


class AnnouncementsAtomFeed(AnnouncementsFeed):
    feed_type = Atom1Feed
    subtitle = AnnouncementsFeed.description
