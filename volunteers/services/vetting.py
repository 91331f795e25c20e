"""The administrators' side of who may be dispatched: approving volunteers (and so clearing their
position-jump flags), withdrawing approval. What the dispatch policy asks is
``volunteers.models.dispatchable.Vetting``."""

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from volunteers.models import Volunteer


def volunteers_approve(*, volunteer_ids: Iterable[int], approved_by: AbstractBaseUser) -> int:
    """Approve for alerts: an administrator checked who they are (and their course).

    Also clears the count of implausible position jumps, so that someone the policy excluded
    for them is alerted again: the administrator has looked at them. Returns how many.
    """
    now = timezone.now()
    return Volunteer.objects.filter(pk__in=list(volunteer_ids)).update(
        approved_at=now, approved_by=approved_by, location_jumps=0, updated_at=now
    )


def volunteers_approval_withdraw(*, volunteer_ids: Iterable[int]) -> int:
    """Withdraw the approval: not alerted while the policy asks for one. Returns how many."""
    return Volunteer.objects.filter(pk__in=list(volunteer_ids), approved_at__isnull=False).update(
        approved_at=None, approved_by=None, updated_at=timezone.now()
    )
