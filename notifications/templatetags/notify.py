from django import template

from notifications.timefmt import local_time

register = template.Library()


@register.filter
def local(moment, zone_name: str) -> str:
    """{{ starts_at|local:timezone }}"""
    return local_time(moment, zone_name) if moment else ""


@register.filter
def get_item(mapping, key):
    """{{ answers|get_item:key }}"""
    return mapping.get(key) if hasattr(mapping, "get") else None
