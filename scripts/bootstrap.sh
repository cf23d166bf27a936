#!/usr/bin/env bash
# Creates .venv and installs the pinned requirements; re-installs only when they change.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ]; then
  if ! "$python" -c "import ensurepip, venv" 2>/dev/null; then
    # Debian splits venv out of python3.
    echo "Installing python3-venv (needed for .venv)"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv
  fi
  "$python" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -r requirements-dev.txt
  echo "$want" > "$stamp"
fi
mkdir -p var
# Translations: `.mo` files are built here, never committed, so `make run` and `make serve` answer
# in every shipped language on a fresh machine. compilemessages rebuilds only catalogues newer
# than their `.mo`; msgfmt comes from Debian's gettext.
if compgen -G "locale/*/LC_MESSAGES/*.po" >/dev/null; then
  if ! command -v msgfmt >/dev/null; then
    echo "Installing gettext (msgfmt compiles the translation catalogues)"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends gettext
  fi
  # DEBUG=true only lets the settings load without production secrets; nothing else reads it here.
  # Only ./locale: compilemessages would otherwise walk into .venv and node_modules.
  DEBUG=true .venv/bin/python manage.py compilemessages --verbosity 0 \
    --ignore .venv --ignore node_modules --ignore var --ignore tests --ignore bench
fi
