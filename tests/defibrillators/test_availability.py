"""Whether an AED can be fetched: active, and open by its OSM opening_hours in Denmark."""

import datetime as dt
import zoneinfo

import pytest

from defibrillators.availability import (
    aed_is_available,
    opening_hours_is_open,
    opening_hours_is_valid,
)
from defibrillators.models import Defibrillator

CPH = zoneinfo.ZoneInfo("Europe/Copenhagen")
OFFICE = "Mo-Fr 08:00-16:00"


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=CPH)


# Tuesday 3 June 2025 (summer time, UTC+2); Christmas Day 2025 is a Thursday.
TUESDAY_10 = local(2025, 6, 3, 10, 0)
TUESDAY_1630 = local(2025, 6, 3, 16, 30)
SATURDAY_10 = local(2025, 6, 7, 10, 0)
CHRISTMAS_DAY_10 = local(2025, 12, 25, 10, 0)
DAY_BEFORE_CHRISTMAS_EVE_10 = local(2025, 12, 23, 10, 0)


@pytest.mark.parametrize("at", [TUESDAY_10, TUESDAY_1630, SATURDAY_10, CHRISTMAS_DAY_10])
def test_24_7_is_always_open(at):
    assert opening_hours_is_open("24/7", at)


def test_empty_opening_hours_count_as_24_7():
    assert opening_hours_is_open("", SATURDAY_10)


@pytest.mark.parametrize(
    ("at", "is_open"),
    [
        (TUESDAY_10, True),
        (local(2025, 6, 3, 7, 59), False),
        (local(2025, 6, 3, 8, 0), True),
        (TUESDAY_1630, False),
        (SATURDAY_10, False),
    ],
)
def test_office_hours(at, is_open):
    assert opening_hours_is_open(OFFICE, at) is is_open


def test_office_hours_are_read_in_copenhagen_time_whatever_the_timezone_given():
    # 07:30 UTC is 09:30 in Copenhagen in summer (open); 14:30 UTC is 16:30 (closed).
    assert opening_hours_is_open(OFFICE, dt.datetime(2025, 6, 3, 7, 30, tzinfo=dt.UTC))
    assert not opening_hours_is_open(OFFICE, dt.datetime(2025, 6, 3, 14, 30, tzinfo=dt.UTC))
    # In winter Copenhagen is UTC+1: 07:30 UTC is 08:30 (open), 06:30 UTC is 07:30 (closed).
    assert opening_hours_is_open(OFFICE, dt.datetime(2025, 1, 7, 7, 30, tzinfo=dt.UTC))
    assert not opening_hours_is_open(OFFICE, dt.datetime(2025, 1, 7, 6, 30, tzinfo=dt.UTC))


def test_danish_public_holiday_closes_with_ph_off():
    hours = f"{OFFICE}; PH off"

    assert not opening_hours_is_open(hours, CHRISTMAS_DAY_10)  # 1. juledag
    assert opening_hours_is_open(hours, DAY_BEFORE_CHRISTMAS_EVE_10)  # an ordinary Tuesday
    assert opening_hours_is_open(OFFICE, CHRISTMAS_DAY_10)  # without PH off it is a Thursday


def test_danish_holidays_are_used():
    # Skærtorsdag (Maundy Thursday, 17 April 2025) is a public holiday in Denmark but not in
    # most countries; Store Bededag was abolished from 2024 (16 May 2025 is a working Friday).
    hours = f"{OFFICE}; PH off"

    assert not opening_hours_is_open(hours, local(2025, 4, 17, 10, 0))
    assert opening_hours_is_open(hours, local(2025, 5, 16, 10, 0))


@pytest.mark.parametrize("hours", ["off", "closed"])
def test_off_is_always_closed(hours):
    assert opening_hours_is_valid(hours)
    assert not opening_hours_is_open(hours, TUESDAY_10)


@pytest.mark.parametrize("hours", ["when the caretaker is in", "Mo-Fr 25:00-26:00", "Mo-Fr 08:00-"])
def test_invalid_opening_hours_count_as_closed(hours):
    assert not opening_hours_is_valid(hours)
    assert not opening_hours_is_open(hours, TUESDAY_10)


def test_valid_opening_hours_are_recognised():
    assert opening_hours_is_valid(OFFICE)
    assert opening_hours_is_valid("24/7")


def test_active_aed_with_24_7_is_available():
    assert aed_is_available(Defibrillator(opening_hours="24/7"), SATURDAY_10)


def test_inactive_aed_is_unavailable_even_when_open():
    aed = Defibrillator(opening_hours="24/7", status=Defibrillator.Status.INACTIVE)

    assert not aed_is_available(aed, TUESDAY_10)


def test_active_aed_outside_its_hours_is_unavailable():
    aed = Defibrillator(opening_hours=OFFICE)

    assert aed_is_available(aed, TUESDAY_10)
    assert not aed_is_available(aed, TUESDAY_1630)
