from django.contrib import admin
from django.db import transaction

from scheduling.generation import slots_changed
from scheduling.models import (
    Booking,
    CalendarFeedToken,
    Representative,
    RepresentativeLanguage,
    Slot,
    TimeOff,
    WorkingHours,
)
from scheduling.tasks import representative_slots_sync


class LanguageInline(admin.TabularInline):
    model = RepresentativeLanguage
    extra = 0


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0


class TimeOffInline(admin.TabularInline):
    model = TimeOff
    extra = 0


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record nobody adds, changes or deletes in the admin (audit trails, feed links)."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Representative)
class RepresentativeAdmin(admin.ModelAdmin):
    list_display = ["display_name", "timezone", "can_take_phone_calls", "active"]
    list_filter = ["active", "can_take_phone_calls", "timezone"]
    search_fields = ["display_name", "user__username", "user__email"]
    inlines = [LanguageInline, WorkingHoursInline, TimeOffInline]

    def save_related(self, request, form, formsets, change):
        """Hours or time off changed: regenerate this representative's slots once committed."""
        super().save_related(request, form, formsets, change)
        rep_id = form.instance.pk
        transaction.on_commit(lambda: representative_slots_sync.delay(rep_id))


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = ["starts_at", "representative", "attendee_name", "status", "displacement"]
    list_filter = ["status", "displacement", "representative"]
    search_fields = ["attendee_email", "attendee_name", "case_ref"]
    date_hierarchy = "starts_at"
    readonly_fields = [f.name for f in Booking._meta.fields if f.name not in ("join_token", "dial_in_pin")]
    exclude = ["join_token", "dial_in_pin"]

    def has_add_permission(self, request) -> bool:
        return False  # bookings are made by freelancers through the scheduling services

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    list_display = ["starts_at", "ends_at", "representative", "is_booked"]
    list_filter = ["is_booked", "representative"]
    date_hierarchy = "starts_at"

    def has_add_permission(self, request) -> bool:
        return False  # slots come from working hours

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj) -> None:
        super().delete_model(request, obj)
        slots_changed()

    def delete_queryset(self, request, queryset) -> None:
        super().delete_queryset(request, queryset)
        slots_changed()


@admin.register(CalendarFeedToken)
class CalendarFeedTokenAdmin(ReadOnlyAdmin):
    """Who made or revoked each representative's calendar feed link, and when (read-only: links
    are made and rotated by the representative in the console; the token is never stored)."""

    list_display = ["representative", "created_at", "created_by", "revoked_at", "revoked_by"]
    list_filter = ["representative"]
    exclude = ["token_hash"]
