"""The Operations pages (console, staff with `verification.view_operations`). Each view parses the
period, makes one selector call, and renders HTML, an htmx partial, or one table as CSV
(`?csv=<table>`). Bad input is a message on the page (400), never a 500."""

from functools import wraps

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from verification.operations import present
from verification.operations.capacity import MIN_HISTORY, forecast
from verification.operations.fairness import fairness
from verification.operations.forms import PeriodForm
from verification.operations.funnel import funnel
from verification.operations.now import now_panel
from verification.operations.period import FORECAST_DAYS, MAX_DAYS
from verification.operations.tables import table_csv

PERMISSION = "verification.view_operations"
PAGES = [("operations-now", _("Now")), ("operations-funnel", _("Funnel and times")),
         ("operations-capacity", _("Capacity")), ("operations-representatives", _("Representatives"))]


def operations_required(view):
    """Staff only (others go to the login page); staff without the permission get a 403."""

    @staff_member_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied(_("The Operations pages need the “Can see the Operations pages” permission."))
        return view(request, *args, **kwargs)

    return wrapped


def _render(request, *, page: str, template: str, context: dict, tables=(), status: int = 200):
    name = request.GET.get("csv")
    if name is not None and status == 200:
        table = next((t for t in tables if t.name == name), None)
        if table is None:
            context["problem"] = _("There is no table “%(name)s” on this page to download: use the "
                                   "“Download CSV” links under the tables.") % {"name": name[:40]}
            status = 404
        else:
            stamp = timezone.now().strftime("%Y%m%d-%H%M")
            response = HttpResponse(table_csv(table), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{table.name}-{stamp}.csv"'
            return response
    context.update({"page": page, "pages": PAGES, "tables": {t.name: t for t in tables}, "max_days": MAX_DAYS})
    if request.htmx and status == 200:
        return render(request, f"verification/operations/_{page}.html", context)
    return render(request, f"verification/operations/{template}", context, status=status)


def _form(request) -> PeriodForm:
    return PeriodForm(request.GET, now=timezone.now())


def _refused(request, page: str, form: PeriodForm):
    """The form's messages where the figures would be; htmx swaps only 2xx answers, so it gets a 200."""
    context = {"page": page, "pages": PAGES, "form": form, "max_days": MAX_DAYS}
    if request.htmx:
        return render(request, "verification/operations/_refused.html", context)
    return render(request, "verification/operations/refused.html", context, status=400)


@operations_required
def now_page(request):
    form = _form(request)
    if not form.is_valid():
        return _refused(request, "now", form)
    period = form.period()
    panel = now_panel(now=period.now)
    return _render(request, page="now", template="now.html", tables=present.now_tables(panel, period),
                   context={"form": form, "period": period, "panel": panel})


@operations_required
def funnel_page(request):
    form = _form(request)
    if not form.is_valid():
        return _refused(request, "funnel", form)
    period = form.period()
    result = funnel(period=period)
    return _render(request, page="funnel", template="funnel.html", tables=present.funnel_tables(result),
                   context={"form": form, "period": period, "funnel": result,
                            "chart": present.funnel_chart(result)})


@operations_required
def capacity_page(request):
    form = _form(request)
    if not form.is_valid():
        return _refused(request, "capacity", form)
    period = form.period()
    result = forecast(now=period.now, zone_name=period.zone_name)
    return _render(request, page="capacity", template="capacity.html", tables=present.capacity_tables(result),
                   context={"form": form, "period": period, "forecast": result, "horizon": FORECAST_DAYS,
                            "min_history": MIN_HISTORY, "chart": present.capacity_chart(result),
                            "phone_percent": round(100 * result.phone_share),
                            "slot_minutes": settings.CALL_MINUTES + settings.CALL_BUFFER_MINUTES,
                            "flagged": [d for d in result.days if d.flagged_routes]})


@operations_required
def representatives_page(request):
    form = _form(request)
    if not form.is_valid():
        return _refused(request, "representatives", form)
    period = form.period()
    result = fairness(period=period)
    table = present.representatives_table(result)
    return _render(request, page="representatives", template="representatives.html", tables=[table],
                   context={"form": form, "period": period, "fairness": result,
                            "chart": present.representatives_chart(result),
                            "team_percent": present.percent(result.team_rate or 0, 1) if result.team_rate is not None
                            else None,
                            "flagged": [r for r in result.rows if r.test.flagged]})
