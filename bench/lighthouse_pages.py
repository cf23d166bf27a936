"""Lighthouse's mobile preset (its default: a mid-range phone on a slow 4G line, simulated) on the
pages invitees meet first: the event page, the invitation landing page and home, served by
gunicorn with production settings (hashed, compressed static files; covers from MEDIA_ROOT).

Prints the four category scores per page (the median of LIGHTHOUSE_RUNS runs, 3 by default; the
machine is shared, so performance varies from run to run). Targets: accessibility, best practices
and SEO >= 95, performance >= 90. Nothing is asserted.

Lighthouse is the npm package pinned in bench/lighthouse/ (scripts/npm-install-cached.sh installs
it outside the repository), run with Debian's Node and chromium (CHROME_PATH). Needs DATABASE_URL
(PostgreSQL) and REDIS_URL: `make bench` provides them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT), str(BENCH)]

from invitations_common import _require, fresh_database  # noqa: E402
from web_pages import free_port  # noqa: E402

RUNS = int(os.environ.get("LIGHTHOUSE_RUNS", "3"))
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
CHROME = os.environ.get("CHROME_PATH", "/usr/bin/chromium")


def lighthouse_cli() -> list[str]:
    subprocess.run([str(ROOT / "scripts/npm-install-cached.sh"), str(BENCH / "lighthouse")], check=True)
    cache = subprocess.run([str(ROOT / "scripts/npm-install-cached.sh"), str(BENCH / "lighthouse"), "--print-dir"],
                           check=True, capture_output=True, text=True).stdout.strip()
    node = shutil.which("node") or sys.exit("node is missing (scripts/system-packages.sh installs npm and node)")
    return [node, str(Path(cache) / "node_modules/lighthouse/cli/index.js")]


def scores(cli: list[str], url: str, out: Path) -> dict[str, float]:
    """One Lighthouse run (mobile preset) -> category scores out of 100."""
    result = subprocess.run(
        [*cli, url, "--quiet", "--output=json", f"--output-path={out}",
         f"--only-categories={','.join(CATEGORIES)}",
         "--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run"],
        env={**os.environ, "CHROME_PATH": CHROME}, capture_output=True, text=True, timeout=300,
    )
    if result.returncode != 0:
        sys.exit(f"lighthouse failed on {url}:\n{result.stderr[-2000:]}")
    report = json.loads(out.read_text())
    # The weighted audits that cost points (a metric below 0.9 counts as one).
    failed = [a["id"] for a in report["audits"].values() if a.get("score") is not None and a["score"] < 0.9
              and a["id"] in _weighted(report)]
    return {**{c: round(report["categories"][c]["score"] * 100) for c in CATEGORIES}, "_failed": failed}


def _weighted(report: dict) -> set[str]:
    return {ref["id"] for c in CATEGORIES for ref in report["categories"][c]["auditRefs"] if ref.get("weight")}


def main() -> None:
    from cryptography.fernet import Fernet

    db_url = _require("DATABASE_URL")
    redis_url = _require("REDIS_URL")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    media = Path(tempfile.mkdtemp(prefix="elonara-lighthouse-media-"))
    reports = Path(tempfile.mkdtemp(prefix="elonara-lighthouse-"))
    cli = lighthouse_cli()
    with fresh_database(db_url) as database:
        env = {
            **os.environ, "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "127.0.0.1",
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "SECURE_SSL_REDIRECT": "false",
            "ELONARA_PUBLIC_URL": base, "DATABASE_URL": database, "REDIS_URL": redis_url,
            "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2", "LOG_LEVEL": "WARNING",
            "MEDIA_ROOT": str(media), "SERVE_MEDIA": "true",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        os.environ.update(env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        from tests.browser.site import build_site

        site = build_site()
        pages = [
            ("event page", site.event.get_absolute_url()),
            ("invitation landing page", f"{site.event.get_absolute_url()}?invitation={site.invitation.token}"),
            ("home", "/"),
        ]
        from django.db import connections

        connections.close_all()
        log = open(reports / "gunicorn.log", "wb")
        server = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-c", "config/gunicorn.conf.py",
                                   "--access-logfile", "/dev/null"],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            version = subprocess.run([*cli, "--version"], capture_output=True, text=True).stdout.strip()
            print(f"Lighthouse {version}, mobile preset, {CHROME}; median of {RUNS} runs per page")
            print(f"{'page':26} {'performance':>12} {'accessibility':>14} {'best practices':>15} {'SEO':>5}")
            for name, path in pages:
                runs = [scores(cli, base + path, reports / f"report-{i}.json") for i in range(RUNS)]
                median = {c: statistics.median(r[c] for r in runs) for c in CATEGORIES}
                print(f"{name:26} {median['performance']:12.0f} {median['accessibility']:14.0f} "
                      f"{median['best-practices']:15.0f} {median['seo']:5.0f}")
                failed = sorted({a for r in runs for a in r["_failed"]})
                if failed:
                    print(f"{'':26} audits not passed: {', '.join(failed)}")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
            log.close()
            shutil.rmtree(media, ignore_errors=True)
            shutil.rmtree(reports, ignore_errors=True)


if __name__ == "__main__":
    main()
