from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, ngettext_lazy

from scheduling.admin import ReadOnlyAdmin
from scheduling.errors import DomainError
from verification.checklist import checklist_items_screen
from verification.deadlines.services import case_extend, case_unfreeze
from verification.models import (
    AuditEvent,
    Case,
    CaseRequest,
    ChecklistTemplate,
    Freelancer,
    GracePolicy,
    RequestStatus,
    Review,
)
from verification.operations.forms import GracePolicyForm
from verification.operations.policies import grace_policy_prefill, grace_policy_reach
from verification.services.cases import case_link_revoke, case_withdraw
from verification.services.requests import case_hold, case_hold_release, case_request_resolve
from verification.services.reviews import review_assign, review_excluded_user_ids


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=1000, help_text=_("Recorded in the audit log.")
    )


def reason_action(*, description: str, service, done_message):
    """An admin action that asks for a reason, then calls a service once per selected case."""

    def action(modeladmin, request, queryset):
        form = ReasonForm(request.POST if "reason" in request.POST else None)
        if not form.is_valid():
            return TemplateResponse(
                request,
                "admin/verification/case/reason_action.html",
                {
                    **modeladmin.admin_site.each_context(request),
                    "title": description,
                    "form": form,
                    "cases": queryset,
                    "action": request.POST["action"],
                    "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                    "opts": modeladmin.model._meta,
                },
            )
        done = 0
        for case in queryset:
            try:
                service(case_id=case.pk, actor=f"user:{request.user.get_username()}",
                        reason=form.cleaned_data["reason"], now=timezone.now())
                done += 1
            except DomainError as error:
                modeladmin.message_user(request, f"{case}: {error.detail}", messages.ERROR)
        if done:
            modeladmin.message_user(request, done_message % {"count": done}, messages.SUCCESS)
        return None

    action.short_description = description
    action.__name__ = f"action_{service.__name__}"
    return action


@admin.register(GracePolicy)
class GracePolicyAdmin(admin.ModelAdmin):
    """Offsets are typed as lists ("72, 24"); a new policy starts from the default's values; the form
    says which cases a change affects (new ones) and which it does not (running ones keep theirs)."""

    form = GracePolicyForm
    list_display = ["reason_code", "grace_days", "warning_offsets_hours", "reminder_offsets_minutes",
                    "max_reschedules", "updated_at"]
    readonly_fields = ["what_a_change_affects"]

    def get_fields(self, request, obj=None):
        return ["what_a_change_affects", *[f for f in super().get_fields(request, obj) if f != "what_a_change_affects"]]

    def get_changeform_initial_data(self, request):
        return {**grace_policy_prefill(), **super().get_changeform_initial_data(request)}

    @admin.display(description=_("What a change affects"))
    def what_a_change_affects(self, obj) -> str:
        return grace_policy_reach(reason_code=obj.reason_code if obj and obj.pk else None)


@admin.register(Freelancer)
class FreelancerAdmin(admin.ModelAdmin):
    list_display = ["external_id", "name", "email", "timezone", "language"]
    search_fields = ["external_id", "name", "email"]
    readonly_fields = ["created_at", "updated_at"]


class AuditEventInline(admin.TabularInline):
    model = AuditEvent
    fields = ["at", "actor", "action", "from_status", "to_status", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class CaseRequestInline(admin.TabularInline):
    model = CaseRequest
    fields = ["kind", "status", "need", "note", "created_by", "created_at", "resolved_by", "resolution"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CaseRequest)
class CaseRequestAdmin(admin.ModelAdmin):
    """Staff see accommodation requests (and holds) here and resolve them."""

    list_display = ["case", "kind", "need", "status", "created_at", "note"]
    list_filter = ["status", "kind", "need"]
    readonly_fields = [f.name for f in CaseRequest._meta.fields]
    actions = ["grant", "decline"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def _resolve(self, request, queryset, status: str, verb: str, label: str) -> None:
        done = 0
        for case_request in queryset:
            try:
                case_request_resolve(request_id=case_request.pk, status=status,
                                              actor=f"user:{request.user.get_username()}",
                                              reason=f"{verb} in the admin.", now=timezone.now())
                done += 1
            except DomainError as error:
                self.message_user(request, f"{case_request}: {error.detail}", messages.ERROR)
        self.message_user(request, ngettext("%(verb)s: %(count)s request.", "%(verb)s: %(count)s requests.", done)
                          % {"verb": label, "count": done}, messages.SUCCESS)

    @admin.action(description=_("Grant / mark handled"))
    def grant(self, request, queryset):
        self._resolve(request, queryset, RequestStatus.GRANTED, "Granted", _("Granted"))

    @admin.action(description=_("Decline"))
    def decline(self, request, queryset):
        self._resolve(request, queryset, RequestStatus.DECLINED, "Declined", _("Declined"))


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["id", "freelancer", "reason_code", "status", "deadline_at", "created_at"]
    list_filter = ["status", "reason_code"]
    search_fields = ["freelancer__external_id", "freelancer__email", "freelancer__name"]
    date_hierarchy = "created_at"
    list_select_related = ["freelancer"]
    readonly_fields = [f.name for f in Case._meta.fields if f.name != "link_nonce"]
    exclude = ["link_nonce"]
    actions = [
        reason_action(description=_("Hold: pause the freeze"), service=case_hold,
                      done_message=ngettext_lazy("Held %(count)s case.", "Held %(count)s cases.", "count")),
        reason_action(description=_("Release the hold"), service=case_hold_release,
                      done_message=ngettext_lazy("Released %(count)s case.", "Released %(count)s cases.", "count")),
        reason_action(description=_("Extend the deadline by the policy's amount"), service=case_extend,
                      done_message=ngettext_lazy("Extended %(count)s case.", "Extended %(count)s cases.", "count")),
        reason_action(description=_("Unfreeze"), service=case_unfreeze,
                      done_message=ngettext_lazy("Unfroze %(count)s case.", "Unfroze %(count)s cases.", "count")),
        reason_action(description=_("Revoke the link and mail a new one"), service=case_link_revoke,
                      done_message=ngettext_lazy("Sent a new link for %(count)s case.",
                                                 "Sent a new link for %(count)s cases.", "count")),
        reason_action(description=_("Withdraw the selected cases"), service=case_withdraw,
                      done_message=ngettext_lazy("Withdrew %(count)s case.", "Withdrew %(count)s cases.", "count")),
    ]
    inlines = [CaseRequestInline, AuditEventInline]

    def has_add_permission(self, request) -> bool:
        return False  # cases are opened by the marketplace API

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "case", "actor", "action", "from_status", "to_status"]
    list_filter = ["action"]
    search_fields = ["case__id", "actor", "reason"]
    date_hierarchy = "at"


class ChecklistTemplateForm(forms.ModelForm):
    class Meta:
        model = ChecklistTemplate
        fields = ["items"]

    def clean_items(self):
        items = self.cleaned_data["items"]
        try:
            checklist_items_screen(items)
        except DomainError as refusal:
            raise forms.ValidationError(refusal.detail) from None
        return items


@admin.register(ChecklistTemplate)
class ChecklistTemplateAdmin(admin.ModelAdmin):
    """Editing a checklist saves a new version; calls keep the version they started with. No item
    may ask about the person (labels and choices are screened)."""

    form = ChecklistTemplateForm
    list_display = ["version", "created_at", "created_by"]
    readonly_fields = ["version", "created_at", "created_by"]

    def save_model(self, request, obj, form, change):
        latest = ChecklistTemplate.objects.order_by("-version").values_list("version", flat=True).first() or 0
        obj.pk, obj.version = None, latest + 1
        obj.created_at, obj.created_by = timezone.now(), f"user:{request.user.get_username()}"
        obj.save()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReviewAdminForm(forms.ModelForm):
    """Only the assignee can change here, and never to someone the separation-of-duties rule
    excludes (who ran a call of the case, or decided it before an appeal)."""

    class Meta:
        model = Review
        fields = ["assigned_to"]

    def clean_assigned_to(self):
        assignee = self.cleaned_data["assigned_to"]
        if self.instance.pk and self.instance.decided_at:
            raise forms.ValidationError("This review is already decided.")
        if assignee is not None and self.instance.pk and assignee.pk in review_excluded_user_ids(self.instance):
            raise forms.ValidationError("This person was on a call of this case or decided it before; "
                                        "pick someone else.")
        return assignee


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    form = ReviewAdminForm
    list_display = ["case", "kind", "assigned_to", "decision", "created_at", "decided_at"]
    list_filter = ["kind", "decision"]
    readonly_fields = [f.name for f in Review._meta.fields if f.name != "assigned_to"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        if change and obj.assigned_to_id and "assigned_to" in form.changed_data:
            review_assign(review_id=obj.pk, user=request.user, assignee_id=obj.assigned_to_id, now=timezone.now())
        else:
            super().save_model(request, obj, form, change)
