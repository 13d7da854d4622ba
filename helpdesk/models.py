"""The shared core: people, sites, support groups, the service catalogue, categories."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from helpdesk.phones import InvalidPhoneNumber, format_phone, normalize_phone


class Site(models.Model):
    """An office or a contact-center location."""

    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=120)
    address = models.CharField(_("address"), max_length=250, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Warsaw")
    is_contact_center = models.BooleanField(_("contact center"), default=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")

    def __str__(self):
        return self.name


class Person(models.Model):
    """Anyone the help desk deals with: staff with a login, or a caller known only by phone/mail."""

    class Language(models.TextChoices):
        ENGLISH = "en", _("English")
        POLISH = "pl", _("Polish")

    class Origin(models.TextChoices):
        DIRECTORY = "directory", _("Directory")
        MAIL = "mail", _("Created from an e-mail")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="person",
    )
    full_name = models.CharField(_("full name"), max_length=200)
    email = models.EmailField(_("e-mail"), blank=True, db_index=True)
    department = models.CharField(_("department"), max_length=120, blank=True)
    site = models.ForeignKey(
        Site,
        verbose_name=_("site"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="people",
    )
    job_title = models.CharField(_("job title"), max_length=120, blank=True)
    is_vip = models.BooleanField(_("VIP"), default=False)
    language = models.CharField(
        _("preferred language"), max_length=8, choices=Language.choices, default=Language.POLISH
    )
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    origin = models.CharField(
        _("origin"), max_length=10, choices=Origin.choices, default=Origin.DIRECTORY
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["full_name"]
        verbose_name = _("person")
        verbose_name_plural = _("people")
        indexes = [
            models.Index(fields=["full_name"], name="person_full_name_idx"),
            # people_by_email's case-insensitive match (``email__iexact`` is UPPER() = UPPER()).
            models.Index(Upper("email"), name="person_email_upper_idx"),
        ]

    def __str__(self):
        return self.full_name


class PhoneNumber(models.Model):
    """One of a person's numbers, stored normalised for caller-ID lookup."""

    class Kind(models.TextChoices):
        DESK = "desk", _("desk")
        MOBILE = "mobile", _("mobile")
        EXTENSION = "extension", _("extension")
        OTHER = "other", _("other")

    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="phone_numbers"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.DESK)
    raw = models.CharField(_("number as entered"), max_length=40)
    e164 = models.CharField(_("normalised number"), max_length=24, db_index=True, editable=False)
    extension = models.CharField(_("extension"), max_length=10, blank=True, editable=False)

    class Meta:
        ordering = ["kind", "id"]
        verbose_name = _("phone number")
        verbose_name_plural = _("phone numbers")
        constraints = [
            models.UniqueConstraint(fields=["person", "e164"], name="phone_unique_per_person")
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.display}"

    def save(self, *args, **kwargs):
        # Always from ``raw``: a number edited in code must not keep its old lookup key.
        normalized = normalize_phone(self.raw)
        self.e164 = normalized.e164
        self.extension = normalized.extension
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "raw" in update_fields:
            kwargs["update_fields"] = {*update_fields, "e164", "extension"}
        super().save(*args, **kwargs)

    def clean(self):
        try:
            normalized = normalize_phone(self.raw)
        except InvalidPhoneNumber as error:
            raise ValidationError({"raw": error.message}) from None
        self.e164 = normalized.e164
        self.extension = normalized.extension

    @property
    def display(self) -> str:
        text = format_phone(self.e164)
        return f"{text} ext. {self.extension}" if self.extension else text


def in_reader_language(stored: str, polish: str) -> str:
    """A name of reference data in the active language: ``polish`` when the reader reads
    Polish and one is filled in, else the stored name (the one the API and the history keep).
    """
    if polish and (translation.get_language() or "").split("-")[0] == "pl":
        return polish
    return stored


def _polish_name_field():
    return models.CharField(
        _("name in Polish"),
        max_length=120,
        blank=True,
        help_text=_("Shown to people who read Polish; empty: the name above."),
    )


class SupportGroup(models.Model):
    """A team that owns tickets: the first line or a second-line resolver group."""

    class Tier(models.IntegerChoices):
        FIRST = 1, _("first line")
        SECOND = 2, _("second line")
        THIRD = 3, _("third line")

    name = models.CharField(_("name"), max_length=120, unique=True)
    name_pl = _polish_name_field()
    code = models.SlugField(_("code"), max_length=40, unique=True)
    tier = models.PositiveSmallIntegerField(_("tier"), choices=Tier.choices, default=Tier.FIRST)
    email = models.EmailField(_("e-mail"), blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("members"),
        blank=True,
        related_name="support_groups",
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["tier", "name"]
        verbose_name = _("support group")
        verbose_name_plural = _("support groups")

    def __str__(self):
        return self.name_localized

    @property
    def name_localized(self) -> str:
        return in_reader_language(self.name, self.name_pl)


class Service(models.Model):
    """An entry of the IT service catalogue."""

    class Criticality(models.TextChoices):
        LOW = "low", _("low")
        MEDIUM = "medium", _("medium")
        HIGH = "high", _("high")
        CRITICAL = "critical", _("critical")

    name = models.CharField(_("name"), max_length=120, unique=True)
    name_pl = _polish_name_field()
    description = models.TextField(_("description"), blank=True)
    owner_group = models.ForeignKey(
        SupportGroup,
        verbose_name=_("owner group"),
        on_delete=models.PROTECT,
        related_name="services",
    )
    criticality = models.CharField(
        _("criticality"), max_length=10, choices=Criticality.choices, default=Criticality.MEDIUM
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("service")
        verbose_name_plural = _("services")

    def __str__(self):
        return self.name_localized

    @property
    def name_localized(self) -> str:
        return in_reader_language(self.name, self.name_pl)


class Category(models.Model):
    """A node of the category tree (``Hardware / Laptop / Battery``)."""

    name = models.CharField(_("name"), max_length=120)
    name_pl = _polish_name_field()
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
    )
    # Denormalised "A / B / C" so lists and search need no recursive queries.
    path = models.CharField(_("path"), max_length=500, editable=False, db_index=True)
    # The same in Polish (each level's Polish name, else its name), kept like ``path``.
    path_pl = models.CharField(_("path in Polish"), max_length=500, editable=False, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["path"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="category_unique_name")
        ]

    def __str__(self):
        return self.path_localized

    def save(self, *args, **kwargs):
        self.path = f"{self.parent.path} / {self.name}" if self.parent_id else self.name
        own_pl = self.name_pl or self.name
        if self.parent_id:
            self.path_pl = f"{self.parent.path_pl or self.parent.path} / {own_pl}"
        else:
            self.path_pl = own_pl
        super().save(*args, **kwargs)
        for child in self.children.all():
            child.save()

    @property
    def name_localized(self) -> str:
        return in_reader_language(self.name, self.name_pl)

    @property
    def path_localized(self) -> str:
        """The whole path in the reader's language (``Sprzęt / Laptop``)."""
        return in_reader_language(self.path or self.name, self.path_pl)

    def clean(self):
        node = self.parent
        while node is not None:
            if node.pk == self.pk and self.pk is not None:
                raise ValidationError({"parent": _("A category cannot be its own ancestor.")})
            node = node.parent


class ApiTokenQuerySet(models.QuerySet):
    def usable(self):
        """Neither revoked nor expired."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class ApiToken(models.Model):
    """A named API key of one user (``Authorization: Token <key>``), one per client.

    Only a SHA-256 digest of the key is stored: the key is shown once, when it is made. The
    keys are 256-bit random strings, so a fast digest is enough (there is nothing to guess
    that a slow hash would protect); the prefix lets the owner tell their tokens apart.
    """

    class RevokedReason(models.TextChoices):
        BY_USER = "by_user", _("revoked by its owner")
        SIGNED_OUT = "signed_out", _("the client signed out")
        PASSWORD_CHANGED = "password_changed", _("the password was changed")
        DEACTIVATED = "deactivated", _("the account was deactivated")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="api_tokens",
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=8)
    key_digest = models.CharField(_("key digest"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_reason = models.CharField(
        _("why revoked"), max_length=20, choices=RevokedReason.choices, blank=True
    )

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        indexes = [models.Index(fields=["user", "revoked_at"], name="apitoken_user_revoked")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
