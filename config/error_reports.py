"""Django's error reports (the 500 page, admin e-mails, anything using ExceptionReporter) show the
request and every frame's local variables. `sensitive_variables` / `sensitive_post_parameters`
mark the places we know; this filter adds a net under them: every variable and POST parameter
is scrubbed by key name and by value pattern (tokens, codes, verifiers, app passwords, keys),
including in frames of `bluesky.atproto`, pure protocol code that cannot use Django's decorators,
and it does so with DEBUG on too."""

from __future__ import annotations

from typing import Any

from django.views.debug import SafeExceptionReporterFilter

from config.sentry import SECRET_KEYS, scrub, scrub_text


def _is_secret_name(name: Any) -> bool:
    return isinstance(name, str) and name.lower().replace("-", "_") in SECRET_KEYS


class SecretScrubbingReporterFilter(SafeExceptionReporterFilter):
    def get_traceback_frame_variables(self, request, tb_frame):
        return [(name, self._scrubbed(name, value))
                for name, value in super().get_traceback_frame_variables(request, tb_frame)]

    def get_post_parameters(self, request):
        params = super().get_post_parameters(request)
        if not params:
            return params
        cleansed = params.copy()
        for key in cleansed:
            if _is_secret_name(key):
                cleansed[key] = self.cleansed_substitute
        return cleansed

    def _scrubbed(self, name: Any, value: Any) -> Any:
        if _is_secret_name(name):
            return self.cleansed_substitute
        if isinstance(value, str | dict | list | tuple):
            return scrub(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        # Any other object is shown by its repr: scrub that text (a dataclass or a dict inside it).
        try:
            text = repr(value)
        except Exception:  # noqa: BLE001 - a broken __repr__ must not break the error report
            return self.cleansed_substitute
        return scrub_text(text)
