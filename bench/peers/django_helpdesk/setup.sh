#!/usr/bin/env bash
# The django-helpdesk 2.6.1 peer: its own virtualenv, static files, database schema.
#
#   bash bench/peers/django_helpdesk/setup.sh      # from anywhere
#
# django-helpdesk's package is called `helpdesk`, like ours: nothing here runs with the
# repository root on sys.path (PYTHONPATH is cleared, commands run from peer/).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
unset PYTHONPATH
cd "$HERE"

if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
# A local copy of the wheel (DH_WHEEL=/path/django_helpdesk-2.6.1-py3-none-any.whl) is
# used when given; otherwise pip gets django-helpdesk==2.6.1 from the index.
if [ -n "${DH_WHEEL:-}" ]; then
    .venv/bin/pip install -q "$DH_WHEEL" -r <(grep -v '^django-helpdesk==' requirements.txt)
else
    .venv/bin/pip install -q -r requirements.txt
fi

cd peer
found="$(../.venv/bin/python -c 'import helpdesk; print(helpdesk.__file__)')"
case "$found" in
    "$HERE/.venv/"*) echo "helpdesk package: $found" ;;
    *) echo "wrong helpdesk package on sys.path: $found" >&2; exit 1 ;;
esac
../.venv/bin/python manage.py collectstatic --noinput -v 0
echo "setup done; next: .venv/bin/python generate.py (creates and migrates dh_bench)"
