from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ior_platform.core.errors import NotPermitted
from parties.api_keys import api_key_issue
from parties.choices import ApiScope
from parties.models import Organization, User

OPTION = {"owner": "--owner", "name": "--name", "scope": "--scope", "expires_at": "--expires"}


class Command(BaseCommand):
    help = (
        "Issue an API key for a system of an organization and print it once (only its hash is kept). "
        "The key goes to stdout alone, so a script can capture it; what was issued goes to stderr."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, help="The organization's name or id.")
        parser.add_argument("--owner", required=True, help="Username of the organization's user the key acts as.")
        parser.add_argument("--name", required=True, help="What the key is for, e.g. 'RTSM production'.")
        parser.add_argument("--scope", required=True, choices=ApiScope.values)
        parser.add_argument(
            "--expires", help="Last day the key works (YYYY-MM-DD, through the end of that day UTC); never if omitted."
        )
        parser.add_argument(
            "--issued-by",
            help="Username recorded as issuing the key: a manager of the organization or platform staff "
            "(default: the owner).",
        )

    def handle(self, *args, **opts):
        organization = self._organization(opts["organization"])
        owner = self._user("--owner", opts["owner"])
        if owner.organization_id != organization.pk:
            # Said before the issuer is checked, since the issuer defaults to the owner.
            raise CommandError(f"--owner: {owner.username} is not a user of {organization.name}")
        actor = self._user("--issued-by", opts["issued_by"]) if opts["issued_by"] else owner
        expires_at = self._expiry(opts["expires"]) if opts["expires"] else None
        try:
            key, secret = api_key_issue(
                actor=actor,
                organization=organization,
                owner=owner,
                name=opts["name"],
                scope=opts["scope"],
                expires_at=expires_at,
            )
        except NotPermitted:
            raise CommandError(
                f"--issued-by: {actor.username} is neither a manager of {organization.name} nor platform staff; "
                "name one who is with --issued-by"
            ) from None
        except ValidationError as exc:
            problems = [f"{OPTION.get(field, field)}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()]
            raise CommandError("; ".join(problems)) from None
        expiry = f"expires {key.expires_at:%Y-%m-%d %H:%M} UTC" if key.expires_at else "never expires"
        self.stderr.write(
            f"Issued {key.prefix} ({key.name}, {key.scope}) for {organization.name}, acting as {owner.username}; "
            f"{expiry}. Store the key now: it is not shown again."
        )
        self.stdout.write(secret)

    def _organization(self, value: str) -> Organization:
        found = Organization.objects.filter(name=value).first()
        if found is None and value.isdigit():
            found = Organization.objects.filter(pk=int(value)).first()
        if found is None:
            raise CommandError(f"--organization: no organization named or numbered {value!r}")
        return found

    def _user(self, option: str, username: str) -> User:
        found = User.objects.filter(username=username).first()
        if found is None:
            raise CommandError(f"{option}: no user {username!r}")
        return found

    def _expiry(self, value: str) -> datetime:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise CommandError(f"--expires: {value!r} is not a date (YYYY-MM-DD)") from None
        # Through the whole of the last day: it stops working at the next midnight, UTC.
        return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)
