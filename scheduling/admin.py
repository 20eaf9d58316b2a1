from django.contrib import admin

from scheduling.models import Representative, TimeOff, WorkingHours


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0


class TimeOffInline(admin.TabularInline):
    model = TimeOff
    extra = 0


@admin.register(Representative)
class RepresentativeAdmin(admin.ModelAdmin):
    list_display = ["display_name", "timezone", "languages", "can_take_phone_calls", "active"]
    list_filter = ["active", "can_take_phone_calls", "timezone"]
    search_fields = ["display_name", "user__username", "user__email"]
    inlines = [WorkingHoursInline, TimeOffInline]
