from django import template

from notifications.timefmt import local_day, local_time

register = template.Library()


@register.filter
def local(moment, zone_name: str) -> str:
    """{{ starts_at|local:timezone }}"""
    return local_time(moment, zone_name) if moment else ""


@register.filter
def day(value, skeleton: str = "MMMEd") -> str:
    """{{ d.date|day }} (`Tue 3 Mar`, `ter., 3 de mar.`) or {{ d.date|day:"MMMMEEEEd" }}: weekday and
    month names in the active language (Babel), where Django's `date` filter has none (Filipino)."""
    return local_day(value, skeleton) if value else ""


@register.filter
def get_item(mapping, key):
    """{{ answers|get_item:key }}"""
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def earlier_offer(link: str, offer_id) -> str:
    """{{ link|earlier_offer:offer_id }}: the page of an earlier-time offer under the freelancer's link."""
    return f"{link}earlier/{offer_id}/"
