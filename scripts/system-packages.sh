#!/usr/bin/env bash
# Installs the Debian packages the full test suite needs, if any is missing:
# PostgreSQL and Redis (started privately by the tests), Chromium (the browser tests),
# dnsmasq (a private DNS server for the handle-resolution tests), the compilers the test
# peer's native module needs, and gettext (msgfmt compiles the translation catalogues).
set -euo pipefail
need=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || [ -n "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null)" ] || need+=(postgresql)
command -v redis-server >/dev/null || need+=(redis-server)
command -v chromium >/dev/null || need+=(chromium)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v openssl >/dev/null || need+=(openssl)
# dnsmasq-base: the dnsmasq binary only. The `dnsmasq` package adds a system service that would
# start listening on port 53 of every interface; the tests start their own on 127.0.0.1.
command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
# nginx-light: a real reverse proxy in front of gunicorn for the client-address tests
# (tests/config/test_client_address.py starts its own on 127.0.0.1; Debian's service is not used).
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
# npm fetches Node 22 for the test peer (tests/peer/install.sh).
command -v npm >/dev/null || need+=(npm)
command -v python3 >/dev/null || need+=(python3)
# gettext: `manage.py compilemessages` (scripts/bootstrap.sh) and `make messages` run msgfmt/xgettext.
command -v msgfmt >/dev/null || need+=(gettext)
# Japanese, Chinese and Korean glyphs for the browser tests: the Japanese pages are measured (line
# breaking, overflow) and screenshotted with real glyphs, not empty boxes.
[ -d /usr/share/fonts/opentype/noto ] && ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1 || need+=(fonts-noto-cjk)
[ ${#need[@]} -eq 0 ] && exit 0
echo "Installing Debian packages: ${need[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
# Debian starts a cluster/server of its own on install; the tests use private ones.
# nginx likewise: its default site would listen on every interface.
case " ${need[*]} " in *" nginx-light "*) $sudo service nginx stop >/dev/null 2>&1 || true ;; esac
