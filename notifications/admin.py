from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from notifications.models import MessageStatus, OutboxMessage, WebhookEndpoint
from notifications.services import message_retry


class UncertainFilter(admin.SimpleListFilter):
    title = _("attempts of unknown outcome")
    parameter_name = "uncertain"

    def lookups(self, request, model_admin):
        return [("yes", _("Some: a copy may have been delivered")), ("no", _("None"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(uncertain_attempts__gt=0)
        if self.value() == "no":
            return queryset.filter(uncertain_attempts=0)
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ["kind", "recipient", "status", "due_at", "sent_at", "attempts", "uncertain_attempts",
                    "attempt_started_at", "skip_reason"]
    list_filter = ["status", UncertainFilter, "kind"]
    search_fields = ["recipient", "topic", "case_ref"]
    date_hierarchy = "due_at"
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]
    actions = ["send_again"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description=_("Send again (failed messages only)"))
    def send_again(self, request, queryset):
        failed = list(queryset.filter(status=MessageStatus.FAILED).values_list("pk", flat=True))
        for message_id in failed:
            message_retry(message_id=message_id, now=timezone.now())
        self.message_user(request, ngettext("%(count)s failed message will be sent at the next sweep.",
                                            "%(count)s failed messages will be sent at the next sweep.",
                                            len(failed)) % {"count": len(failed)}, messages.SUCCESS)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["name", "url", "active", "events"]
    readonly_fields = ["deliveries"]

    @admin.display(description=_("Delivery log"))
    def deliveries(self, endpoint: WebhookEndpoint) -> str:
        from django.urls import reverse
        from django.utils.html import format_html

        url = reverse("admin:notifications_outboxmessage_changelist")
        return format_html('<a href="{}?kind__startswith=webhook&amp;topic__startswith=webhook:{}:">{}</a>', url,
                           endpoint.pk, _("Every delivery to this endpoint, with attempts and errors"))
