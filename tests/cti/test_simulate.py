"""The demo data and ``manage.py cti_simulate`` against a running server."""

import io

import pytest
from django.core.management import CommandError, call_command

from cti import demo, notify
from cti.models import AgentExtension, AgentPresence, Call, CallEvent, CallQueue, Pbx
from tests.factories import AgentExtensionFactory, PbxFactory, PhoneNumberFactory


@pytest.fixture(autouse=True)
def _no_push(monkeypatch):
    monkeypatch.setattr(notify, "call_changed", lambda call_id, **_kwargs: None)


@pytest.mark.django_db
def test_demo_seed_builds_pbx_queues_extensions_presence_and_calls_once():
    from helpdesk.demo import seed as core_seed

    out = io.StringIO()
    core_seed(stdout=out, people=15, tickets=10)
    pbx = Pbx.objects.get(token=demo.DEMO_PBX_TOKEN)
    assert pbx.secret == demo.DEMO_PBX_SECRET
    assert CallQueue.objects.get(code="service-desk").is_default
    assert CallQueue.objects.get(code="vip").is_vip
    assert AgentExtension.objects.get(user__username="agent").extension == "2001"
    assert AgentExtension.objects.get(user__username="agent2").extension == "2002"
    assert AgentPresence.objects.get(user__username="agent").state == "available"
    outcomes = sorted(Call.objects.filter(pbx=pbx).values_list("outcome", flat=True))
    assert outcomes == ["abandoned", "answered", "answered", "missed", "missed"]
    assert Call.objects.filter(identification=Call.Identification.EXACT).exists()
    assert Call.objects.filter(is_withheld=True).exists()
    assert "Telephony" in out.getvalue()

    counts = (Call.objects.count(), CallEvent.objects.count(), AgentExtension.objects.count())
    demo.seed(stdout=io.StringIO())
    assert (Call.objects.count(), CallEvent.objects.count(), AgentExtension.objects.count()) == (
        counts
    )


@pytest.fixture
def running_pbx(transactional_db, django_user_model):
    from helpdesk.roles import sync_roles

    sync_roles()
    user = django_user_model.objects.create_user("agent", password="x")
    AgentExtensionFactory(user=user, extension="2001")
    return PbxFactory(token=demo.DEMO_PBX_TOKEN, secret="sim-secret")


def test_simulate_plays_a_call_over_http_to_the_webhook(running_pbx, live_server):
    person = PhoneNumberFactory(raw="+48 22 500 00 01").person
    out = io.StringIO()
    call_command(
        "cti_simulate",
        "--from",
        "+48 22 500 00 01",
        "--url",
        live_server.url,
        "--delay",
        "0",
        "--call-id",
        "sim-1",
        stdout=out,
    )
    call = Call.objects.get(call_id="sim-1")
    assert call.caller_person == person
    assert call.answered_by.username == "agent"
    assert call.outcome == Call.Outcome.ANSWERED
    assert out.getvalue().count("HTTP 200") == 3
    assert set(CallEvent.objects.values_list("source", flat=True)) == {"webhook"}


def test_simulate_unanswered_queue_call_over_the_zammad_endpoint(running_pbx, live_server):
    call_command(
        "cti_simulate",
        "--from",
        "601 234 567",
        "--queue",
        "service-desk",
        "--no-answer",
        "--zammad",
        "--url",
        live_server.url,
        "--delay",
        "0",
        "--call-id",
        "sim-2",
        stdout=io.StringIO(),
    )
    call = Call.objects.get(call_id="sim-2")
    assert call.outcome == Call.Outcome.MISSED
    assert call.queue_name == "service-desk"
    assert call.caller_e164 == "+48601234567"
    assert set(CallEvent.objects.values_list("source", flat=True)) == {"zammad"}


def test_simulate_with_a_wrong_secret_fails_loudly(running_pbx, live_server):
    with pytest.raises(CommandError, match="401"):
        call_command(
            "cti_simulate",
            "--url",
            live_server.url,
            "--secret",
            "wrong",
            "--delay",
            "0",
            stdout=io.StringIO(),
        )
    assert Call.objects.count() == 0


def test_simulate_refuses_a_non_http_url(running_pbx):
    with pytest.raises(CommandError, match="http"):
        call_command("cti_simulate", "--url", "file:///etc/passwd", stdout=io.StringIO())


def test_simulate_posts_to_the_port_of_the_PORT_variable_by_default(
    running_pbx, live_server, monkeypatch
):
    """``make run`` serves on $PORT (manage.py serve); cti_simulate's default --url follows it."""
    from urllib.parse import urlsplit

    monkeypatch.setenv("PORT", str(urlsplit(live_server.url).port))
    call_command("cti_simulate", "--delay", "0", stdout=io.StringIO())
    assert Call.objects.get().state == Call.State.ENDED


def test_simulate_url_help_names_the_PORT_variable(monkeypatch):
    from cti.management.commands.cti_simulate import Command

    monkeypatch.setenv("PORT", "8123")
    parser = Command().create_parser("manage.py", "cti_simulate")
    assert parser.get_default("url") == "http://127.0.0.1:8123"
    assert "PORT" in parser.format_help()
