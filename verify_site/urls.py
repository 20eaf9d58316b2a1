from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from notifications import views as notification_views
from verification import console_calendar, console_views
from verification import views as verification_views
from verification.apis import feeds as feed_api
from verification.apis import freelancer as freelancer_api
from verification.apis import marketplace
from verification.operations import views as operations_views
from verify_site import api_docs, metrics, views

api_v1 = [
    path("cases", marketplace.CaseCreateApi.as_view(), name="api-case-create"),
    path("cases/<uuid:case_id>", marketplace.CaseDetailApi.as_view(), name="api-case-detail"),
    path("cases/<uuid:case_id>/withdraw", marketplace.CaseWithdrawApi.as_view(), name="api-case-withdraw"),
    path("freelancers/<str:external_id>/eligibility", marketplace.EligibilityApi.as_view(),
         name="api-freelancer-eligibility"),
    path("freelancers/<str:external_id>/export", marketplace.FreelancerExportApi.as_view(),
         name="api-freelancer-export"),
    path("freelancers/<str:external_id>/erase", marketplace.FreelancerEraseApi.as_view(),
         name="api-freelancer-erase"),
    path("case", freelancer_api.FreelancerCaseApi.as_view(), name="api-freelancer-case"),
    path("case/availability", freelancer_api.FreelancerAvailabilityApi.as_view(), name="api-freelancer-availability"),
    path("case/booking", freelancer_api.FreelancerBookingApi.as_view(), name="api-freelancer-booking"),
    path("case/booking.ics", freelancer_api.FreelancerBookingIcsApi.as_view(), name="api-freelancer-booking-ics"),
    path("case/extension", freelancer_api.FreelancerExtensionApi.as_view(), name="api-freelancer-extension"),
    path("case/accommodation", freelancer_api.FreelancerAccommodationApi.as_view(),
         name="api-freelancer-accommodation"),
]

freelancer = [
    path("", verification_views.case_page, name="freelancer-case"),
    path("book/", verification_views.book_page, name="freelancer-book"),
    path("booked/", verification_views.booked_page, name="freelancer-booked"),
    path("cancel/", verification_views.cancel, name="freelancer-cancel"),
    path("invite.ics", verification_views.invite, name="freelancer-invite"),
    path("earlier-times/", verification_views.earlier_times, name="freelancer-earlier-times"),
    path("earlier/<int:offer_id>/", verification_views.earlier_offer, name="freelancer-earlier-offer"),
    path("extension/", verification_views.extension, name="freelancer-extension-page"),
    path("accommodation/", verification_views.accommodation, name="freelancer-accommodation-page"),
    path("appeal/", verification_views.appeal, name="freelancer-appeal"),
    path("new-link/", verification_views.link_renew, name="freelancer-link-renew"),
    path("language/", verification_views.language, name="freelancer-language"),
]

console = [
    path("", console_views.today, name="console-today"),
    path("hours/add/", console_views.hours_add, name="console-hours-add"),
    path("hours/remove/", console_views.hours_remove, name="console-hours-remove"),
    path("time-off/add/", console_views.time_off_add_page, name="console-time-off-add"),
    path("time-off/remove/", console_views.time_off_remove_page, name="console-time-off-remove"),
    path("calls/<uuid:booking_id>/", console_views.call_page, name="console-call"),
    path("calls/<uuid:booking_id>/action/", console_views.call_action, name="console-call-action"),
    path("calendar-feed/rotate/", console_views.calendar_feed_rotate_page, name="console-calendar-feed-rotate"),
    path("calendar-feed/revoke/", console_views.calendar_feed_revoke_page, name="console-calendar-feed-revoke"),
    path("reviews/", console_views.reviews, name="console-reviews"),
    path("calendar/", console_calendar.calendar_page, name="console-calendar"),
    path("calendar/connect/", console_calendar.calendar_connect, name="console-calendar-connect"),
    path("calendar/disconnect/", console_calendar.calendar_disconnect, name="console-calendar-disconnect"),
    path("calendar/hand-over/<uuid:booking_id>/", console_calendar.calendar_hand_over,
         name="console-calendar-hand-over"),
    path("reviews/<int:review_id>/", console_views.review_page, name="console-review"),
    path("reviews/<int:review_id>/assign/", console_views.review_assign_page, name="console-review-assign"),
    path("operations/", operations_views.now_page, name="operations-now"),
    path("operations/funnel/", operations_views.funnel_page, name="operations-funnel"),
    path("operations/capacity/", operations_views.capacity_page, name="operations-capacity"),
    path("operations/representatives/", operations_views.representatives_page, name="operations-representatives"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("console/", include(console)),
    path("metrics", metrics.metrics_view, name="metrics"),
    # the token is a secret: keep this path out of access logs (docs/calendar-feed.md)
    path("feeds/calendar/<str:token>.ics", feed_api.CalendarFeedApi.as_view(), name="calendar-feed"),
    path("c/<str:token>/", include(freelancer)),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the staff's language picker
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs.ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    *[path(f"api/v1/{p.pattern}", p.callback, name=p.name) for p in api_v1],
]

if settings.DEBUG:
    urlpatterns += [
        path("dev/mail/", notification_views.dev_mailbox, name="dev-mailbox"),
        path("dev/mail/<str:message_id>/", notification_views.dev_mailbox_message, name="dev-mailbox-message"),
    ]

# Unknown API paths answer JSON even with DEBUG on (handler404 only applies with DEBUG off).
urlpatterns.append(re_path(r"^api/", views.api_not_found))

handler404 = "verify_site.views.not_found"
handler500 = "verify_site.views.server_error"
