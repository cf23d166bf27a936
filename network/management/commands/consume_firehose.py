"""`python manage.py consume_firehose`: read RSVPs and events written in other apps, until stopped."""

import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from network.firehose import FirehoseConsumer

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Read community.lexicon.calendar records from the network's firehose (BLUESKY_FIREHOSE_URL)."

    def add_arguments(self, parser):
        parser.add_argument("--source", default="", help="Relay or PDS base URL (default: BLUESKY_FIREHOSE_URL).")

    def handle(self, *args, source: str = "", **options):
        stop = threading.Event()

        def request_stop(signum, _frame):
            logger.info("firehose consumer stopping", extra={"signal": signum})
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        consumer = FirehoseConsumer(source=source or settings.BLUESKY_FIREHOSE_URL, stop=stop)
        self.stdout.write(f"Reading {consumer.source} (Ctrl-C stops)")
        consumer.run()
