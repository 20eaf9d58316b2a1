"""`user|may_review`: the console shows the review pages' link only to those who may open them."""

from django import template

from verification import access

register = template.Library()


@register.filter
def may_review(user) -> bool:
    return access.may_review(user)
