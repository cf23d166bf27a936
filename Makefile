.PHONY: run serve test bench lint venv peer messages

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

# Translation catalogues: every marked string (templates, mail, Python) into locale/<lang>/LC_MESSAGES/django.po.
# No source locations, so a moved line does not rewrite every catalogue. `make venv` compiles them.
messages: venv
	mkdir -p locale
	DEBUG=true .venv/bin/python manage.py makemessages -l ja -l pt_BR -l de -l es --no-location \
		-e html,txt,py --ignore .venv --ignore tests --ignore bench --ignore node_modules --ignore var

lint: venv
	.venv/bin/ruff check .

venv:
	scripts/bootstrap.sh
