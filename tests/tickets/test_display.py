"""tickets.display: the hook through which a channel's app folds the texts it brought in."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from tickets import display
from tickets.models import Channel

MAIL = "Yes, it works again.\n\nOn Mon, Anna wrote:\n> Please restart it.\n"


def fold_after_first_paragraph(text: str) -> tuple[str, str]:
    visible, separator, rest = text.partition("\n\n")
    return visible + separator, rest


@pytest.fixture
def sms_folder():
    """A folder for a channel no app folds (the mail app's folder stays untouched)."""
    display.register_folder(Channel.SMS, fold_after_first_paragraph)
    yield
    display.unregister_folder(Channel.SMS)


def test_a_registered_channel_shows_the_visible_part_and_folds_the_rest(sms_folder):
    assert display.display_parts(MAIL, Channel.SMS) == (
        "Yes, it works again.",
        "On Mon, Anna wrote:\n> Please restart it.",
    )


def test_a_channel_without_a_folder_is_shown_whole(sms_folder):
    assert display.display_parts(MAIL, Channel.CHAT) == (MAIL, "")
    assert display.display_parts("", Channel.SMS) == ("", "")


def test_a_folder_that_would_lose_text_is_ignored():
    display.register_folder(Channel.SMS, lambda text: ("Yes", " it works"))
    try:
        assert display.display_parts(MAIL, Channel.SMS) == (MAIL, "")
    finally:
        display.unregister_folder(Channel.SMS)


def test_a_folder_that_raises_leaves_the_text_whole(caplog):
    def broken(text):
        raise ValueError("bad mail")

    display.register_folder(Channel.SMS, broken)
    try:
        assert display.display_parts(MAIL, Channel.SMS) == (MAIL, "")
    finally:
        display.unregister_folder(Channel.SMS)
    assert "shown whole" in caplog.text


def test_nothing_is_folded_when_nothing_would_stay_visible(sms_folder):
    text = "\n\n> only a quote\n"
    assert display.display_parts(text, Channel.SMS) == (text, "")


def test_the_template_tag_puts_the_folded_part_in_a_details_element_escaped(sms_folder):
    template = Template("{% load ticket_tags %}{% folded_text text channel %}")
    html = template.render(Context({"text": MAIL, "channel": Channel.SMS}))
    assert html == (
        "Yes, it works again."
        '<details class="quoted-text"><summary>Show quoted text</summary>'
        "On Mon, Anna wrote:\n&gt; Please restart it.</details>"
    )
    unfolded = template.render(Context({"text": "<b>hi</b>", "channel": Channel.PORTAL}))
    assert unfolded == "&lt;b&gt;hi&lt;/b&gt;"
