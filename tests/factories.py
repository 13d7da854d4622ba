"""factory_boy factories shared by every test package."""

from __future__ import annotations

import factory
from django.contrib.auth.models import Group, User

from helpdesk.models import Category, Person, PhoneNumber, Service, Site, SupportGroup
from helpdesk.roles import Role
from tickets import services
from tickets.models import Channel, Impact, TicketType, Urgency

PASSWORD = "correct-horse-battery-staple"


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"site{n}")
    name = factory.Sequence(lambda n: f"Office {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            for role in extracted:
                self.groups.add(Group.objects.get(name=Role(role).value))


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    full_name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    department = "Finance"
    site = factory.SubFactory(SiteFactory)
    language = "en"


class PhoneNumberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PhoneNumber

    person = factory.SubFactory(PersonFactory)
    kind = PhoneNumber.Kind.DESK
    raw = factory.Sequence(lambda n: f"+48 22 {500 + n // 10000:03d} {n % 10000:04d}")


class SupportGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SupportGroup
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"Group {n}")
    code = factory.Sequence(lambda n: f"group-{n}")
    tier = SupportGroup.Tier.FIRST


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    name = factory.Sequence(lambda n: f"Service {n}")
    owner_group = factory.SubFactory(SupportGroupFactory, tier=SupportGroup.Tier.SECOND)


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")


def make_user(role: str | None = None, *, person: bool = True, **kwargs) -> User:
    """A user with a role and (by default) a person profile linked to the login."""
    user = UserFactory(roles=[role] if role else [], **kwargs)
    if person:
        PersonFactory(user=user, full_name=user.get_full_name() or user.username, email=user.email)
    return User.objects.get(pk=user.pk)  # fresh: permission caches empty


def make_ticket(*, caller=None, opened_by=None, **kwargs):
    """A ticket created through the service, as production code creates them."""
    caller = caller or PersonFactory()
    kwargs.setdefault("title", "Printer on floor 3 does not print")
    kwargs.setdefault("description", "Paper jam light is on.")
    kwargs.setdefault("channel", Channel.PORTAL)
    kwargs.setdefault("type", TicketType.INCIDENT)
    kwargs.setdefault("impact", Impact.SINGLE)
    kwargs.setdefault("urgency", Urgency.MEDIUM)
    return services.ticket_create(caller=caller, opened_by=opened_by, **kwargs)


# --- telephony (cti) -------------------------------------------------------------------


class PbxFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cti.Pbx"

    name = factory.Sequence(lambda n: f"PBX {n}")
    token = factory.Sequence(lambda n: f"pbx-token-{n}")
    secret = factory.Sequence(lambda n: f"pbx-secret-{n}")


class CallQueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cti.CallQueue"
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"Queue {n}")
    code = factory.Sequence(lambda n: f"queue-{n}")


class AgentExtensionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cti.AgentExtension"

    user = factory.SubFactory(UserFactory)
    extension = factory.Sequence(lambda n: f"{200 + n}")


# The smallest bytes that content sniffing recognises as a PNG image.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64


def session_cookie_for(user) -> str:
    """A ``Cookie`` header value signing ``user`` in, for websocket and raw HTTP clients."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from helpdesk.auth import SESSION_BACKEND

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = SESSION_BACKEND
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"
