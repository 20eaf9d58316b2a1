"""The OpenAPI schema's naming: serializers nested in an API view (HackSoft's `InputSerializer` /
`OutputSerializer` per operation) are named after their view, so every component is unique
(`CaseCreateApi.InputSerializer` -> `CaseCreateInput`)."""

from drf_spectacular.openapi import AutoSchema


class ViewScopedAutoSchema(AutoSchema):
    def get_serializer_name(self, serializer, direction) -> str:
        cls = serializer.__class__
        outer, _, inner = cls.__qualname__.rpartition(".")
        if outer and outer.endswith("Api"):
            return outer.removesuffix("Api") + inner.removesuffix("Serializer")
        return super().get_serializer_name(serializer, direction)
