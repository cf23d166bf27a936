"""Settings for the page benchmark (not a benchmark itself): production settings, with
web_urls_common.py as URLconf (the app's URLs plus one bare view, the floor)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "web_urls_common"
