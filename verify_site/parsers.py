"""The API's JSON parser: DRF's, with a nesting limit and no NUL characters anywhere (keys or
values), so hostile bodies get a 400 instead of a RecursionError or a database error."""

from typing import Any

from rest_framework import exceptions
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32  # our deepest body is 3 levels; PostgreSQL's jsonb and Python's json give up far later
NUL_MESSAGE = "Null characters are not allowed."


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise _too_deep() from None
        problems = _check(data)
        if problems:
            raise exceptions.ValidationError(problems)
        return data


def _too_deep() -> exceptions.ParseError:
    return exceptions.ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")


def _check(data: Any) -> dict[str, list[str]]:
    """Walk the parsed body without recursion: raise if it is too deep; return the dotted paths of
    keys and strings that carry NUL characters."""
    problems: dict[str, list[str]] = {}
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                if "\x00" in key:
                    problems[path or "non_field_errors"] = [NUL_MESSAGE]
                    continue
                stack.append((item, where, depth + 1))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                stack.append((item, f"{path}.{index}" if path else str(index), depth + 1))
        elif isinstance(value, str) and "\x00" in value:
            problems[path or "non_field_errors"] = [NUL_MESSAGE]
    return problems


