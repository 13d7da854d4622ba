"""After-call work ends by itself after CTI_AFTER_CALL_WORK_SECONDS (issue 13): on the
server, by the agent's console asking when the time is up and by the periodic task for
agents with no console; the consoles are told. Also the console's "Recent calls" (the
agent's last ended calls) and people's names in the call log's agent filter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.urls import reverse
from django.utils import timezone

from cti import services, tasks
from cti.forms import CallLogFilterForm
from cti.models import AgentPresence, Call
from cti.selectors import recent_calls_for_agent
from tests.cti.test_consumers import TIMEOUT, connected_with_hello, ingest, run
from tests.factories import PASSWORD, AgentExtensionFactory, PbxFactory, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pbx():
    return PbxFactory()


@pytest.fixture
def alice(first_line):
    from helpdesk.roles import Role

    user = make_user(Role.AGENT, username="alice", first_name="Alice", last_name="Account")
    user.person.full_name = "Alicja Kowalska"
    user.person.save(update_fields=["full_name"])
    AgentExtensionFactory(user=user, extension="201")
    return user


def presence_of(user) -> AgentPresence:
    return AgentPresence.objects.get(user=user)


def call_and_hang_up(pbx, call_id: str) -> None:
    ingest(pbx, "ring", call_id=call_id, extensions=["201"])
    ingest(pbx, "answer", call_id=call_id, answering="201")
    ingest(pbx, "hangup", call_id=call_id, cause="normal")


def test_after_call_work_ends_by_itself_after_the_configured_time(alice, pbx, settings):
    settings.CTI_AFTER_CALL_WORK_SECONDS = 120
    services.presence_set(user=alice, state=AgentPresence.State.AVAILABLE)
    call_and_hang_up(pbx, "c1")
    after = presence_of(alice)
    assert after.state == AgentPresence.State.AFTER_CALL_WORK

    assert services.after_call_work_end_due(now=after.changed_at + timedelta(seconds=119)) == []
    assert presence_of(alice).state == AgentPresence.State.AFTER_CALL_WORK

    assert tasks.end_after_call_work() == 0  # now: not due yet
    ended = services.after_call_work_end_due(now=after.changed_at + timedelta(seconds=120))
    assert ended == [alice.pk]
    presence = presence_of(alice)
    assert presence.state == AgentPresence.State.AVAILABLE
    assert presence.version == after.version + 1
    # Nothing more to end.
    assert services.after_call_work_end_due(now=timezone.now() + timedelta(hours=1)) == []


def test_after_call_work_without_a_limit_lasts(alice, pbx, settings):
    settings.CTI_AFTER_CALL_WORK_SECONDS = 0
    services.presence_set(user=alice, state=AgentPresence.State.AFTER_CALL_WORK)
    assert services.after_call_work_end_due(now=timezone.now() + timedelta(days=1)) == []
    assert presence_of(alice).state == AgentPresence.State.AFTER_CALL_WORK


def test_the_periodic_task_ends_due_after_call_work(alice, settings):
    settings.CTI_AFTER_CALL_WORK_SECONDS = 60
    services.presence_set(user=alice, state=AgentPresence.State.AFTER_CALL_WORK)
    AgentPresence.objects.filter(user=alice).update(
        changed_at=timezone.now() - timedelta(seconds=61)
    )
    assert tasks.end_after_call_work() == 1
    assert presence_of(alice).state == AgentPresence.State.AVAILABLE


def test_the_console_gets_the_timer_and_its_end_pushed_without_any_other_event(
    alice, pbx, settings
):
    """The console shows since when and until when; when the time is up the server (the
    console's consumer asking, not the browser) ends it, and the console hears it."""
    settings.CTI_AFTER_CALL_WORK_SECONDS = 1
    services.presence_set(user=alice, state=AgentPresence.State.AVAILABLE)

    async def scenario():
        console, hello = await connected_with_hello(alice)
        assert hello["presence"]["state"] == "available"
        await database_sync_to_async(call_and_hang_up)(pbx, "c2")
        states = []
        after_call_work = None
        while "available" not in states[1:]:
            message = await console.receive_json_from(timeout=TIMEOUT)
            if message["type"] != "presence":
                continue
            states.append(message["state"])
            if message["state"] == "after_call_work":
                after_call_work = message
        assert states == ["busy", "after_call_work", "available"]
        assert after_call_work["changed_at"]
        ends_at = timezone.datetime.fromisoformat(after_call_work["ends_at"])
        started = timezone.datetime.fromisoformat(after_call_work["changed_at"])
        assert ends_at - started == timedelta(seconds=1)
        assert after_call_work["name"] == "Alicja Kowalska"
        await console.disconnect()

    run(scenario)
    assert presence_of(alice).state == AgentPresence.State.AVAILABLE


def test_a_choice_made_during_after_call_work_is_not_undone_by_its_end(alice, settings):
    settings.CTI_AFTER_CALL_WORK_SECONDS = 60
    services.presence_set(user=alice, state=AgentPresence.State.AFTER_CALL_WORK)
    services.presence_set(user=alice, state=AgentPresence.State.AWAY)
    later = timezone.now() + timedelta(seconds=61)
    assert services.after_call_work_end_due(now=later) == []
    assert presence_of(alice).state == AgentPresence.State.AWAY


def test_recent_calls_are_the_agents_answered_and_missed_calls_newest_first(alice, pbx, first_line):
    from helpdesk.roles import Role

    bob = make_user(Role.AGENT, username="bob")
    AgentExtensionFactory(user=bob, extension="202")
    call_and_hang_up(pbx, "answered-by-alice")
    ingest(pbx, "ring", call_id="missed", extensions=["201"])
    ingest(pbx, "hangup", call_id="missed", cause="cancel")
    ingest(pbx, "ring", call_id="bobs", extensions=["201", "202"])
    ingest(pbx, "answer", call_id="bobs", answering="202")
    ingest(pbx, "hangup", call_id="bobs", cause="normal")
    ingest(pbx, "ring", call_id="live", extensions=["201"])
    ingest(pbx, "ring", call_id="not-alices", extensions=["202"])
    ingest(pbx, "hangup", call_id="not-alices", cause="cancel")
    for index, call in enumerate(Call.objects.order_by("pk")):
        Call.objects.filter(pk=call.pk).update(
            started_at=timezone.now() - timedelta(minutes=10 - index)
        )

    recent = [call.call_id for call in recent_calls_for_agent(alice)]
    assert recent == ["missed", "answered-by-alice"]
    assert [call.call_id for call in recent_calls_for_agent(alice, limit=1)] == ["missed"]


def test_recent_calls_partial_marks_the_missed_call_and_offers_a_call_back(
    alice, pbx, client, django_assert_max_num_queries
):
    call_and_hang_up(pbx, "answered")
    ingest(pbx, "ring", call_id="missed", extensions=["201"])
    ingest(pbx, "hangup", call_id="missed", cause="cancel")
    missed = Call.objects.get(call_id="missed")
    client.login(username="alice", password=PASSWORD)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("cti:recent_calls"))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="cti-recent__item') == 2
    assert f'data-call-id="{missed.pk}" data-outcome="{missed.outcome}"' in html
    assert "cti-recent__item--unhandled" in html
    assert 'href="tel:+48225550101"' in html
    assert "/console/new/" in html


def test_call_log_agent_filter_names_people_not_logins(alice):
    form = CallLogFilterForm()
    labels = [label for _value, label in form.fields["agent"].choices]
    assert "Alicja Kowalska" in labels
    assert "alice" not in labels


def test_call_log_agent_filter_falls_back_to_the_account_name_then_the_login(first_line):
    from helpdesk.roles import Role

    named = make_user(Role.AGENT, username="named", first_name="Nina", last_name="Named")
    named.person.full_name = ""
    named.person.save(update_fields=["full_name"])
    AgentExtensionFactory(user=named, extension="301")
    bare = make_user(Role.AGENT, username="bare", first_name="", last_name="", person=False)
    AgentExtensionFactory(user=bare, extension="302")
    labels = [label for _value, label in CallLogFilterForm().fields["agent"].choices]
    assert "Nina Named" in labels
    assert "bare" in labels
