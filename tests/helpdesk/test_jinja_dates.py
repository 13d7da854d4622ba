"""The Jinja2 templates' ``date`` filter (helpdesk.jinja.date) formats as Django does."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import formats, timezone, translation
from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk import jinja

FORMATS = [
    "SHORT_DATETIME_FORMAT",
    "SHORT_DATE_FORMAT",
    "TIME_FORMAT",
    "DATETIME_FORMAT",  # English "N j, Y, P", Polish "j E Y H:i": left to Django (N, E)
    "d.m.Y H:i:s",
    "j/n/y G:i a A",
    "\\a\\t P",
]

moments = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2060, 12, 31), timezones=st.just(UTC)
)
# Midnight, noon and on-the-hour times, which English "P" words differently.
round_hours = st.builds(
    lambda day, hour: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=day, hours=hour),
    st.integers(0, 400),
    st.integers(0, 23),
)


@pytest.mark.parametrize("language", ["en", "pl"])
@pytest.mark.parametrize("format_name", FORMATS)
@settings(max_examples=60, deadline=None)
@given(value=st.one_of(moments, round_hours))
def test_same_text_as_django(language, format_name, value):
    with translation.override(language):
        expected = formats.date_format(timezone.localtime(value), format_name)
        assert jinja.date(value, format_name) == expected


def test_iso_format_and_nothing():
    value = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # the night summer time starts in Warsaw
    assert jinja.date(value, "c") == "2026-03-29T03:30:00+02:00"
    assert jinja.date(None, "SHORT_DATE_FORMAT") == ""


def test_formats_with_unknown_characters_are_left_to_django():
    with translation.override("pl"):
        assert jinja._compiled("pl", "DATETIME_FORMAT") is None  # "E": the month's genitive
        assert "grudnia" in jinja.date(datetime(2026, 12, 3, 12, tzinfo=UTC), "DATETIME_FORMAT")
    assert jinja._compiled("en", "SHORT_DATETIME_FORMAT") is not None
