from datetime import date

from django.core.management.base import BaseCommand, CommandError

from compliance.expiry import chase_expiries
from documents.deadlines import chase_document_deadlines
from documents.models import ReminderStage


class Command(BaseCommand):
    help = "Send the document deadline reminders due now (the same sweep Celery beat runs) and print how many."

    def add_arguments(self, parser):
        parser.add_argument("--today", help="Sweep as if it were this day (YYYY-MM-DD), e.g. to catch up by hand.")

    def handle(self, *args, today: str | None = None, **options):
        try:
            day = date.fromisoformat(today) if today else None
        except ValueError:
            raise CommandError(f"--today must be YYYY-MM-DD, not {today!r}") from None
        sent = chase_document_deadlines(today=day)
        for stage in ReminderStage:
            self.stdout.write(f"{stage.label}: {sent.get(stage.value, 0)}")
        self.stdout.write(f"Reminders sent: {sum(sent.values())}")
        expiries = chase_expiries()
        self.stdout.write(
            f"Expiry warnings sent: {expiries['permit']} for permits, {expiries['licence']} for import licences"
        )
