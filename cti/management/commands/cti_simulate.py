"""manage.py cti_simulate: play one call (ring, answer, hang-up) against the running app.

It posts to the app over HTTP exactly as a PBX would: the signed generic webhook by
default, or the Zammad-compatible endpoint with ``--zammad``. Example::

    manage.py cti_simulate --from "+48 22 500 00 01" --extension 2001 --delay 2
    manage.py cti_simulate --from 601234567 --queue service-desk --no-answer
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from cti.api import SIGNATURE_HEADER, signature_for
from cti.models import AgentExtension, Pbx


def default_url() -> str:
    """Where ``make run`` (``manage.py serve``) listens: the port comes from ``PORT``."""
    return f"http://127.0.0.1:{os.environ.get('PORT') or '8000'}"


class Command(BaseCommand):
    help = "Play a call (ring, answer, hang-up) against the running app so a console pops."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="caller", default="+48 22 500 00 01")
        parser.add_argument("--to", dest="called", default="100")
        parser.add_argument(
            "--extension", help="extension that rings and answers (default: user agent's)"
        )
        parser.add_argument("--queue", default="", help="queue code; alone: a queue-wide ring")
        parser.add_argument("--no-answer", action="store_true", help="hang up unanswered")
        parser.add_argument("--cause", help="hang-up cause (default normalClearing/noAnswer)")
        parser.add_argument(
            "--url",
            default=default_url(),
            help=(
                "address of the running app (default: http://127.0.0.1:$PORT, the port "
                "`make run` serves on; 8000 when PORT is not set)"
            ),
        )
        parser.add_argument("--delay", type=float, default=2.0, help="seconds between events")
        parser.add_argument("--token", help="PBX token (default: the demo PBX)")
        parser.add_argument("--secret", help="PBX signing secret (default: from the database)")
        parser.add_argument("--pbx-id", type=int, help="PBX id for the webhook URL")
        parser.add_argument("--call-id", help="call id (default: a new random one)")
        parser.add_argument("--zammad", action="store_true", help="use /api/v1/cti/<token>")

    def handle(self, *args, **options):
        from cti.demo import DEMO_PBX_TOKEN

        token = options["token"] or DEMO_PBX_TOKEN
        pbx = Pbx.objects.filter(token=token).first()
        secret = options["secret"] or (pbx.secret if pbx else None)
        pbx_id = options["pbx_id"] or (pbx.pk if pbx else None)
        if not options["zammad"] and (secret is None or pbx_id is None):
            raise CommandError(
                _("No PBX with that token here: run seed_demo, or pass --pbx-id and --secret.")
            )
        extension = options["extension"]
        if extension is None and not options["queue"]:
            extension = (
                AgentExtension.objects.filter(user__username="agent")
                .values_list("extension", flat=True)
                .first()
            )
            if extension is None:
                raise CommandError(
                    _("Pass --extension or --queue (no demo agent extension found).")
                )
        call_id = options["call_id"] or f"sim-{uuid.uuid4().hex[:12]}"
        base = options["url"].rstrip("/")
        if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
            raise CommandError(_("--url must be an http:// or https:// address."))
        self.sender = (
            self._zammad_sender(base, token)
            if options["zammad"]
            else self._webhook_sender(base, pbx_id, secret)
        )
        caller, called, queue = options["caller"], options["called"], options["queue"]
        self.stdout.write(
            _("Call %(call)s from %(caller)s to %(target)s")
            % {"call": call_id, "caller": caller, "target": extension or queue}
        )

        self._send("ring", call_id, caller, called, queue, extension)
        time.sleep(options["delay"])
        if not options["no_answer"]:
            self._send("answer", call_id, caller, called, queue, extension)
            time.sleep(options["delay"])
        cause = options["cause"] or ("noAnswer" if options["no_answer"] else "normalClearing")
        self._send("hangup", call_id, caller, called, queue, extension, cause=cause)

    def _send(self, kind, call_id, caller, called, queue, extension, cause=""):
        status, body = self.sender(kind, call_id, caller, called, queue, extension, cause)
        self.stdout.write(f"  {kind}: HTTP {status} {body}")
        if status >= 400:
            raise CommandError(
                _("The app refused the %(kind)s event: HTTP %(status)s %(body)s")
                % {"kind": kind, "status": status, "body": body}
            )

    def _post(self, url, body: bytes, headers: dict) -> tuple[int, str]:
        # The scheme is checked in handle(): only http and https reach here.
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except urllib.error.URLError as error:
            raise CommandError(
                _("Cannot reach %(url)s: %(reason)s") % {"url": url, "reason": error.reason}
            ) from error

    def _webhook_sender(self, base, pbx_id, secret):
        url = f"{base}/cti/webhook/{pbx_id}/"

        def send(kind, call_id, caller, called, queue, extension, cause):
            data = {"event": kind, "call_id": call_id, "from": caller, "to": called}
            if queue:
                data["queue"] = queue
            if extension and kind == "ring":
                data["extension"] = extension
            if extension and kind == "answer":
                data["answered_by"] = extension
            if cause:
                data["cause"] = cause
            body = json.dumps(data).encode()
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature_for(secret, body),
            }
            return self._post(url, body, headers)

        return send

    def _zammad_sender(self, base, token):
        url = f"{base}/api/v1/cti/{token}"
        events = {"ring": "newCall", "answer": "answer", "hangup": "hangup"}

        def send(kind, call_id, caller, called, queue, extension, cause):
            data = {
                "event": events[kind],
                "from": caller,
                "to": called,
                "direction": "in",
                "callId": call_id,
            }
            if queue:
                data["queue"] = queue
            if extension and kind == "ring":
                user = (
                    AgentExtension.objects.filter(extension=extension)
                    .values_list("user__username", flat=True)
                    .first()
                )
                if user:
                    data["user"] = user
            if extension and kind == "answer":
                data["answeringNumber"] = extension
            if cause:
                data["cause"] = cause
            body = urllib.parse.urlencode(data).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            return self._post(url, body, headers)

        return send
