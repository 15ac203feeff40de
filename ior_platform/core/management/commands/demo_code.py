import time

from django.core.management.base import BaseCommand

from ior_platform.core.demo import DEMO_TOTP_SECRET, demo_totp_code


class Command(BaseCommand):
    help = (
        "Print the code the demo accounts' authenticator shows now: the second factor of the seed_demo logins marked "
        f"'demo code' (their published key is {DEMO_TOTP_SECRET}). Knows no other account's key."
    )

    def handle(self, *args, **options):
        now = time.time()
        self.stdout.write(f"{demo_totp_code(now)}  (valid for {30 - int(now) % 30} s more)")
