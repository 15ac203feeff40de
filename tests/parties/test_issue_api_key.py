"""manage.py issue_api_key: prints the key once (alone on stdout), stores only its hash, and says in one line what is
wrong with bad input."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ior_platform.core.models import AuditEvent
from parties.api_keys import api_key_lookup
from parties.models import ApiKey
from tests.conftest import days

pytestmark = pytest.mark.django_db


def issue(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("issue_api_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_issues_a_key_printed_once_and_stored_as_a_hash(world):
    out, err = issue("--organization", "Sponsor A Pharma", "--owner", "mona", "--name", "RTSM", "--scope", "write")
    secret = out.strip()
    key = ApiKey.objects.get()
    assert api_key_lookup(secret) == key
    assert secret.startswith(key.prefix + "_")
    assert secret not in {key.secret_hash, key.prefix}
    assert (key.organization, key.owner, key.created_by, key.scope, key.expires_at) == (
        world.sponsor_a,
        world.mona,
        world.mona,
        "write",
        None,
    )
    assert f"Issued {key.prefix} (RTSM, write) for Sponsor A Pharma, acting as mona; never expires" in err
    assert secret not in err
    assert AuditEvent.objects.filter(action="apikey.issue", actor=world.mona).exists()


def test_organization_by_id_expiry_through_the_last_day_and_another_issuer(world):
    day = days(90)
    out, _ = issue(
        "--organization",
        str(world.sponsor_a.pk),
        "--owner",
        "alice",
        "--name",
        "CTMS",
        "--scope",
        "read",
        "--expires",
        day.isoformat(),
        "--issued-by",
        "mona",
    )
    key = ApiKey.objects.get()
    assert (key.owner, key.created_by, key.scope) == (world.alice, world.mona, "read")
    assert key.expires_at == datetime.combine(days(91), datetime.min.time(), tzinfo=UTC)
    assert api_key_lookup(out.strip()) == key


def _fails(*args: str) -> str:
    with pytest.raises(CommandError) as failed:
        issue(*args)
    assert not ApiKey.objects.exists()
    message = str(failed.value)
    assert "\n" not in message
    return message


BASE = ("--organization", "Sponsor A Pharma", "--owner", "mona", "--name", "RTSM", "--scope", "read")


def _with(**replace) -> list[str]:
    args = list(BASE)
    for option, value in replace.items():
        args[args.index(f"--{option}") + 1] = value
    return args


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (_with(organization="Nope Inc"), "--organization: no organization named or numbered 'Nope Inc'"),
        (_with(organization="999999"), "--organization: no organization named or numbered '999999'"),
        (_with(owner="nobody"), "--owner: no user 'nobody'"),
        (_with(owner="charlie"), "--owner: charlie is not a user of Sponsor A Pharma"),
        (_with(name="   "), "--name: Say what the key is for."),
        ([*BASE, "--expires", "31/12/2030"], "--expires: '31/12/2030' is not a date (YYYY-MM-DD)"),
        ([*BASE, "--expires", "2001-01-01"], "--expires: The expiry must be in the future."),
        ([*BASE, "--issued-by", "ghost"], "--issued-by: no user 'ghost'"),
    ],
)
def test_bad_input_fails_with_one_line_saying_what_is_wrong(world, args, message):
    assert _fails(*args) == message


def test_an_inactive_owner_is_refused(world):
    world.alice.is_active = False
    world.alice.save()
    message = _fails(*_with(owner="alice"), "--issued-by", "mona")
    assert message == "--owner: The key's owner must be an active user of the organization."


def test_an_issuer_who_is_not_a_manager_is_refused(world):
    message = _fails(*_with(owner="alice"))
    assert message == (
        "--issued-by: alice is neither a manager of Sponsor A Pharma nor platform staff; "
        "name one who is with --issued-by"
    )


def test_an_unknown_scope_is_refused(world):
    message = _fails(*_with(scope="admin"))
    assert "--scope" in message
    assert "invalid choice: 'admin'" in message
