"""The API's refusals as schemas, shared by every app's API views and the OpenAPI description
(config.openapi): kept in the foundation so an app's API does not import the floor above it."""

from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """Elonara's refusals: a stable code and a message for people."""

    error = serializers.CharField(help_text="A stable code, e.g. `invalid_token`, `not_connected`, `rate_limited`.")
    message = serializers.CharField()


# The refusals as raw schemas (they are the same for every endpoint).
DETAIL = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}},
          "description": "DRF's refusal: not signed in, not allowed, not found, throttled."}
ERROR = {"type": "object", "required": ["error", "message"],
         "properties": {"error": {"type": "string", "description": "A stable code."}, "message": {"type": "string"}},
         "description": "Elonara's refusal: a stable code and a message for people."}
# Invalid input: each refused field (or `non_field_errors`) with its messages.
VALIDATION = {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
              "description": "Invalid input: each refused field with its messages."}
