#!/usr/bin/env bash
# Serve the django-helpdesk 2.6.1 peer: gunicorn, 2 sync workers, 127.0.0.1:8100, DEBUG off.
#
#   bash bench/peers/django_helpdesk/serve.sh                  # foreground; Ctrl-C stops it
#   DH_BIND=127.0.0.1:8101 DH_WORKERS=2 DH_TIMEOUT=120 DH_ACCESS_LOG=1 bash .../serve.sh
#
# gunicorn's own defaults otherwise: worker timeout 30 s (a request still running then
# gets its worker killed and the client a 500 or a reset), no access log.
# gunicorn runs from peer/ (--chdir) with PYTHONPATH cleared, so `helpdesk` is
# django-helpdesk from .venv, never this repository's package of the same name.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
unset PYTHONPATH DH_DEBUG
cd "$HERE/peer"
args=(
    --chdir "$HERE/peer"
    --bind "${DH_BIND:-127.0.0.1:8100}"
    --workers "${DH_WORKERS:-2}"
    --worker-class sync
    --timeout "${DH_TIMEOUT:-30}"
    --log-level warning
)
if [ "${DH_ACCESS_LOG:-}" = "1" ]; then
    args+=(--access-logfile -)
fi
exec ../.venv/bin/gunicorn peer.wsgi:application "${args[@]}" "$@"
