"""The core directory: people, groups, services, the category tree."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from helpdesk.models import Category, Person, PhoneNumber, SupportGroup
from tests.factories import (
    CategoryFactory,
    PersonFactory,
    PhoneNumberFactory,
    ServiceFactory,
    SiteFactory,
    SupportGroupFactory,
    make_user,
)

pytestmark = pytest.mark.django_db


def test_category_path_follows_the_tree_and_renames():
    hardware = CategoryFactory(name="Hardware")
    laptop = CategoryFactory(name="Laptop", parent=hardware)
    battery = CategoryFactory(name="Battery", parent=laptop)
    assert battery.path == "Hardware / Laptop / Battery"
    assert str(battery) == "Hardware / Laptop / Battery"
    hardware.name = "Devices"
    hardware.save()
    battery.refresh_from_db()
    assert battery.path == "Devices / Laptop / Battery"
    assert list(Category.objects.filter(path__startswith="Devices / ")) == [laptop, battery]


def test_category_cannot_become_its_own_ancestor():
    root = CategoryFactory(name="Software")
    child = CategoryFactory(name="Office", parent=root)
    root.parent = child
    with pytest.raises(ValidationError) as error:
        root.full_clean()
    assert "parent" in error.value.message_dict


def test_category_names_are_unique_among_siblings_only():
    hardware = CategoryFactory(name="Hardware")
    software = CategoryFactory(name="Software")
    CategoryFactory(name="Other", parent=hardware)
    CategoryFactory(name="Other", parent=software)
    with pytest.raises(IntegrityError), transaction.atomic():
        CategoryFactory(name="Other", parent=hardware)


def test_person_without_login_is_a_caller_too():
    person = PersonFactory(full_name="Zofia Wiśniewska", user=None, is_vip=True)
    PhoneNumberFactory(person=person, raw="601 234 567")
    assert str(person) == "Zofia Wiśniewska"
    assert person.phone_numbers.get().e164 == "+48601234567"
    assert person.language == "en"


def test_user_profile_is_reachable_from_login():
    user = make_user(None, username="kasia")
    assert isinstance(user.person, Person)
    assert user.person.email == user.email


def test_deleting_a_person_deletes_their_numbers():
    person = PersonFactory()
    PhoneNumberFactory(person=person)
    person.delete()
    assert not PhoneNumber.objects.exists()


def test_support_groups_sort_by_tier_then_name():
    network = SupportGroupFactory(name="Network", code="net", tier=SupportGroup.Tier.SECOND)
    desk = SupportGroupFactory(name="Service Desk", code="desk", tier=SupportGroup.Tier.FIRST)
    access = SupportGroupFactory(name="Access", code="access", tier=SupportGroup.Tier.SECOND)
    assert list(SupportGroup.objects.all()) == [desk, access, network]
    assert network.get_tier_display() == "second line"


def test_service_keeps_its_owner_group():
    service = ServiceFactory(name="E-mail")
    assert service.owner_group.tier == SupportGroup.Tier.SECOND
    with pytest.raises(IntegrityError), transaction.atomic():
        service.owner_group.delete()


def test_site_str_is_its_name():
    site = SiteFactory(code="waw", name="Warsaw HQ", is_contact_center=True)
    assert str(site) == "Warsaw HQ"
