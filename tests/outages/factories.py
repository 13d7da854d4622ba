"""Helpers of the outages tests."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from outages import services


def declare(by, *, services_=(), sites=(), title="VPN down", expected_end=None, **kwargs):
    return services.outage_declare(
        by=by,
        title=title,
        description=kwargs.pop("description", "The VPN gateway is down"),
        description_pl=kwargs.pop("description_pl", "Brama VPN nie działa"),
        services=list(services_),
        sites=list(sites),
        expected_end=expected_end
        if expected_end is not None
        else timezone.now() + timedelta(hours=2),
        **kwargs,
    )
