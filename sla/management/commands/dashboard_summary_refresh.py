"""Rebuild the dashboard's day summary (sla.summary): after an upgrade, or for older days."""

from django.core.management.base import BaseCommand

from sla import summary


class Command(BaseCommand):
    help = "Rebuild the managers' dashboard's day summary of the last --days days."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=31, help="days back, today included")

    def handle(self, *args, days, **options):
        rows = summary.dashboard_summary_refresh_recent(days=days)
        self.stdout.write(f"{days} days summarised: {rows} rows")
