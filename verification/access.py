"""Who among the staff may act on what: a representative on their own calls, a reviewer on the
reviews assigned to them, an admin (superuser) on all. The one place this rule is written; views
use it to show or refuse a page, services to refuse the change."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet


def acts_for(user: AbstractBaseUser, owner_id: int | None) -> bool:
    """Whether `user` may act on something that belongs to the user with id `owner_id`."""
    return bool(user.is_superuser or (owner_id is not None and owner_id == user.pk))


def only_theirs(user: AbstractBaseUser, queryset: QuerySet, *, owner_field: str) -> QuerySet:
    """`queryset` narrowed to what `user` may act on (all of it for an admin), by the same rule."""
    return queryset if user.is_superuser else queryset.filter(**{owner_field: user})


REVIEWERS_GROUP = "Reviewers"


def may_review(user: AbstractBaseUser) -> bool:
    """Whether the review pages are for this user at all: reviewers (the group) and admins."""
    return bool(user.is_superuser or user.groups.filter(name=REVIEWERS_GROUP).exists())


def is_admin(user: AbstractBaseUser) -> bool:
    return bool(user.is_superuser)
