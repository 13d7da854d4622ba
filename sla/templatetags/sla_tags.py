from django import template
from django.utils.translation import gettext as _

from sla import selectors

register = template.Library()


@register.simple_tag
def ticket_sla(ticket):
    return selectors.clock_views(ticket)


@register.filter
def business_duration(value):
    """``2 h 05 min`` / ``-1 h 30 min`` / ``3 d 4 h`` for a timedelta of business time."""
    if value is None:
        return ""
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return _("%(sign)s%(days)d d %(hours)d h") % {"sign": sign, "days": days, "hours": hours}
    if hours:
        return _("%(sign)s%(hours)d h %(minutes)02d min") % {
            "sign": sign,
            "hours": hours,
            "minutes": minutes,
        }
    return _("%(sign)s%(minutes)d min") % {"sign": sign, "minutes": minutes}
