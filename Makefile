.PHONY: run serve test bench lint venv peer

# Set up (virtualenv, dependencies, migrations) and serve on http://127.0.0.1:8000 with a worker.
run: venv
	scripts/run-dev.sh

# Production settings on this machine: migrations, collectstatic, gunicorn, Celery worker and beat.
serve: venv
	scripts/serve.sh

# The whole test suite: installs what it needs, starts private PostgreSQL/Redis/test peer.
test:
	scripts/run-tests.sh $(ARGS)

# Benchmarks: print figures, assert nothing.
bench: venv
	scripts/run-bench.sh

lint: venv
	.venv/bin/ruff check .

venv:
	scripts/bootstrap.sh
