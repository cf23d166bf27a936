"""The foundation floor: cross-cutting code every app may import (metrics, rate limits, log filters,
errors, the after-commit task helper). It imports no app of ours, so the protocol layer and the
domain apps can both stand on it without an import arrow between them."""
