import time

from django.core.management.base import BaseCommand, CommandError

from ior_platform.core.demo import DEMO_PASSWORD, format_logins, seed_demo


class Command(BaseCommand):
    help = (
        "Load the country regulatory data, then demo organizations, users, trials, permits and about forty shipments "
        "in every lifecycle state, driven through the real services. Safe to run again: it creates only what is "
        "missing. Then print the logins."
    )

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="Print only the demo logins.")

    def handle(self, *args, quiet: bool = False, **options):
        started = time.monotonic()
        try:
            created = seed_demo(stdout=None if quiet else self.stdout)
        except Exception as exc:
            # One line for the operator; --traceback still shows the chained cause.
            raise CommandError(f"seed_demo failed: {' '.join(str(exc).split())}") from exc
        if not quiet:
            self.stdout.write(f"{self._summary(created)} ({time.monotonic() - started:.1f} s)")
            self.stdout.write(f"\nDemo logins (every password is {DEMO_PASSWORD}):")
        self.stdout.write(format_logins())

    @staticmethod
    def _summary(created: dict[str, int]) -> str:
        from django.apps import apps

        made = [
            f"{count} {apps.get_model(label)._meta.verbose_name_plural}" for label, count in created.items() if count
        ]
        if not made:
            return "Demo data already present: nothing created."
        return "Created " + ", ".join(made) + "."
