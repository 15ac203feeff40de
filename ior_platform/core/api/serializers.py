"""Serializer pieces every app's API shares."""

from collections.abc import Mapping

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class StrictInputSerializer(serializers.Serializer):
    """Refuses fields it does not declare writable: a client sending a server-side field (status, organization, a
    hash, uploaded_by) learns at once that it cannot set it, instead of believing it did."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


def named_choice_field_class(component: str, choices) -> type[serializers.ChoiceField]:
    """A choice field published as an enum component of its own name: automatic enum naming goes by field name,
    and "status" or "event" means something else on every model. One class per component: the schema tells
    components apart by class."""
    schema = {
        "type": "string",
        "enum": [value for value, _ in choices],
        "description": "\n".join(f"* `{value}` - {label}" for value, label in choices),
    }

    def __init__(self, **kwargs):
        serializers.ChoiceField.__init__(self, choices=choices, **kwargs)

    field_class = type(f"{component}Field", (serializers.ChoiceField,), {"__init__": __init__})
    return extend_schema_field(schema, component_name=component)(field_class)


def named_choice_field(component: str, choices, **kwargs) -> serializers.ChoiceField:
    return named_choice_field_class(component, choices)(**kwargs)
