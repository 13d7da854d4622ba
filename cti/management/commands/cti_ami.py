"""manage.py cti_ami: listen to Asterisk PBXes over AMI and feed their calls in."""

import asyncio
import contextlib
import signal

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from cti.ami import AmiListener
from cti.models import Pbx


class Command(BaseCommand):
    help = "Listen to the AMI of every active Asterisk PBX (or the ones given) and ingest calls."

    def add_arguments(self, parser):
        parser.add_argument("--pbx", type=int, action="append", help="PBX id (repeatable)")
        parser.add_argument(
            "--initial-backoff",
            type=float,
            default=1.0,
            help="Seconds to wait before the first reconnect; doubles up to "
            "CTI_AMI_RECONNECT_MAX_SECONDS.",
        )

    def handle(self, *args, pbx=None, initial_backoff=1.0, **options):
        pbxes = Pbx.objects.filter(is_active=True, kind=Pbx.Kind.ASTERISK).exclude(ami_host="")
        if pbx:
            pbxes = pbxes.filter(pk__in=pbx)
        pbxes = list(pbxes)
        if not pbxes:
            raise CommandError(_("No active Asterisk PBX with an AMI host is configured."))
        for item in pbxes:
            self.stdout.write(
                _("Listening to %(pbx)s at %(host)s:%(port)s")
                % {"pbx": item, "host": item.ami_host, "port": item.ami_port}
            )
        asyncio.run(self._run(pbxes, initial_backoff))

    async def _run(self, pbxes, initial_backoff):
        listeners = [AmiListener(pbx, initial_backoff=initial_backoff) for pbx in pbxes]
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, lambda: [item.stop() for item in listeners])
        await asyncio.gather(*(listener.run() for listener in listeners))
