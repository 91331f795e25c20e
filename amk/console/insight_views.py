"""The management pages: activation statistics (page and CSV) and the coverage map (page, map
layer and CSV). Statistics and the coverage page need the permission ``amk.view_statistics``;
the coverage layer is also for dispatchers (the board draws it). Reads through amk.insight."""

import csv
from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from amk.access import user_is_dispatcher
from amk.console.insight_forms import CoverageForm, StatisticsForm
from amk.console.views import map_config
from amk.insight import coverage_read
from amk.insight.charts import bar_chart_svg, line_chart_svg
from amk.insight.statistics import (
    GROUPINGS,
    StatisticsRow,
    activation_statistics,
    reason_labels,
    statistics_choices,
)

STATISTICS_PERMISSION = "amk.view_statistics"
RADIUS_LABELS = {
    500: lambda: _("within 500 m"),
    1000: lambda: _("within 1 km"),
    2000: lambda: _("within 2 km"),
}


def _allowed(view: Callable[..., HttpResponse], test: Callable) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (request.user.is_active and test(request.user)):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return never_cache(require_GET(wrapper))


def statistics_required(view):
    return _allowed(view, lambda user: user.has_perm(STATISTICS_PERMISSION))


def coverage_layer_allowed(view):
    return _allowed(
        view, lambda user: user.has_perm(STATISTICS_PERMISSION) or user_is_dispatcher(user)
    )


def _bad_request(form) -> HttpResponse:
    """400 naming each field and its reason, as text (the CSV and the layer)."""
    lines = [f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()]
    return HttpResponse("\n".join(lines), status=400, content_type="text/plain; charset=utf-8")


def _percent(value: float | None) -> float:
    return round(100 * value, 1) if value is not None else 0.0


def _charts(rows: list[StatisticsRow]) -> list[str]:
    groups = [r.group for r in rows]
    return [
        bar_chart_svg(
            _("Activated, and there before the ambulance"),
            groups,
            {
                _("Activated"): [_percent(r.activated_share) for r in rows],
                _("Volunteer before EMS"): [_percent(r.volunteer_before_ems_share) for r in rows],
                _("AED before EMS"): [_percent(r.aed_before_ems_share) for r in rows],
            },
            unit="%",
        ),
        bar_chart_svg(
            _("Time to the first alert and the first acceptance (median)"),
            groups,
            {
                _("Created → first alert"): [r.first_alert_median_s or 0.0 for r in rows],
                _("First alert → first acceptance"): [r.first_accept_median_s or 0.0 for r in rows],
            },
            unit=" s",
        ),
    ]


@statistics_required
def statistics_page(request):
    form = StatisticsForm(request.GET or None, choices=statistics_choices())
    rows: list[StatisticsRow] = []
    totals: list[StatisticsRow] = []
    status = 200
    if not request.GET or form.is_valid():
        if not request.GET:
            form = StatisticsForm({"group_by": "month"}, choices=statistics_choices())
            form.is_valid()
        filters = form.statistics_filter()
        rows = activation_statistics(filters=filters, group_by=form.grouping())
        totals = activation_statistics(filters=filters, group_by="total")
    else:
        status = 400
    context = {
        "form": form,
        "rows": rows,
        "total": totals[0] if totals else None,
        "reasons": reason_labels(),
        "charts": _charts(rows) if rows else [],
        "grouping_label": GROUPINGS.get(form.data.get("group_by") or "month", ""),
        "csv_query": request.GET.urlencode(),
    }
    return render(request, "amk/statistics.html", context, status=status)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _round(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


@statistics_required
def statistics_csv(request):
    """The statistics table as CSV: one row per group, no personal data (a dispatcher is
    named by the number of their account)."""
    form = StatisticsForm(request.GET, choices=statistics_choices())
    if not form.is_valid():
        return _bad_request(form)
    group_by = form.grouping()
    rows = activation_statistics(filters=form.statistics_filter(), group_by=group_by)
    reasons = list(reason_labels())
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="statistics-{group_by}-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            group_by,
            "incidents",
            "activated",
            "activated_share",
            *[f"not_activated_{r}" for r in reasons],
            "first_alert_median_s",
            "first_alert_p90_s",
            "alerts",
            "accepted",
            "acceptance_rate",
            "first_acceptance_median_s",
            "ems_arrival_recorded",
            "volunteer_before_ems",
            "volunteer_before_ems_share",
            "aed_before_ems",
            "aed_before_ems_share",
        ]
    )
    for r in rows:
        group = f"dispatcher-{r.group_id}" if group_by == "dispatcher" else r.group
        writer.writerow(
            [
                _cell(group),
                r.incidents,
                r.activated,
                _round(r.activated_share, 3),
                *[r.not_activated[reason] for reason in reasons],
                _round(r.first_alert_median_s),
                _round(r.first_alert_p90_s),
                r.alerts,
                r.accepted,
                _round(r.acceptance_rate, 3),
                _round(r.first_accept_median_s),
                r.ems_recorded,
                r.volunteer_before_ems,
                _round(r.volunteer_before_ems_share, 3),
                r.aed_before_ems,
                _round(r.aed_before_ems_share, 3),
            ]
        )
    return response


@statistics_required
def coverage_page(request):
    shares = coverage_read.coverage_share_by_hour()
    chart = line_chart_svg(
        _("Squares with at least k volunteers nearby, by hour of day"),
        list(range(24)),
        {RADIUS_LABELS[radius](): [100 * v for v in values] for radius, values in shares.items()},
        x_label=_("Hour of day"),
        y_label=_("Share of squares (%)"),
    )
    context = {
        "status": coverage_read.coverage_status(),
        "municipalities": coverage_read.coverage_by_area(by="municipality"),
        "local_areas": coverage_read.coverage_by_area(by="local_area"),
        "chart": chart,
        "map_config": map_config(),
        "hours": range(24),
    }
    return render(request, "amk/coverage.html", context)


@coverage_layer_allowed
def coverage_json(request):
    """The map layer: every square's bounds and suppressed counts (None: fewer than k)."""
    form = CoverageForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    hour = form.cleaned_data["hour"]
    status = coverage_read.coverage_status()
    cells = coverage_read.coverage_cells(hour=hour)
    computed = status["computed_at"]
    return JsonResponse(
        {
            "k": status["k"],
            "hour": hour,
            "computed_at": computed.isoformat() if computed else None,
            "fields": ["code", "bounds", "within_500", "within_1000", "within_2000", "aeds_1000"],
            "cells": [c.as_list() for c in cells],
        }
    )


@statistics_required
def coverage_csv(request):
    """Every square with its suppressed counts ("<k" below k)."""
    form = CoverageForm(request.GET)
    if not form.is_valid():
        return _bad_request(form)
    hour = form.cleaned_data["hour"]
    k = coverage_read.min_people()
    hidden = f"<{k}"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="coverage.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["cell", "municipality", "local_area", "within_500", "within_1000", "within_2000", "aeds"]
    )
    for c in coverage_read.coverage_cells(hour=hour):
        counts = [hidden if v is None else v for v in (c.within_500, c.within_1000, c.within_2000)]
        writer.writerow([c.code, _cell(c.municipality), _cell(c.local_area), *counts, c.aeds_1000])
    return response
