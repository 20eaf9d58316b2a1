"""`user|may_review`, `user|may_use_calendar`: the console shows a page's link only to those who may
open it."""

from django import template

from verification import access

register = template.Library()


@register.filter
def may_review(user) -> bool:
    return access.may_review(user)


@register.filter
def may_use_calendar(user) -> bool:
    from verification.console_calendar import may_use_calendar_page

    return may_use_calendar_page(user)
