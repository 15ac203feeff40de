"""An e-mail backend for tests that run a real worker: each message takes a while to send and is recorded in a log
file twice, when its send starts and once it is sent (the moment an SMTP server would have accepted it), so a test
can kill the worker in the middle of a send and count what was delivered.

The worker reads its settings from the environment: EMAIL_BACKEND=tests.infra.slow_mail_backend.EmailBackend,
IOR_TEST_MAIL_LOG=<file> and, optionally, IOR_TEST_MAIL_SECONDS=<seconds per message>."""

import json
import os
import time

from django.core.mail.backends.base import BaseEmailBackend

LOG_VARIABLE = "IOR_TEST_MAIL_LOG"
SECONDS_VARIABLE = "IOR_TEST_MAIL_SECONDS"


def read_log(path) -> list[dict]:
    """The records written so far; a line cut short by a kill is left out."""
    try:
        with open(path, encoding="utf-8") as log:
            lines = log.read().split("\n")
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def _append(path: str, record: dict) -> None:
    # One write(2) to a file opened with O_APPEND: a line is whole or absent, and a SIGKILL after it returns
    # cannot take it back.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (json.dumps(record) + "\n").encode())
    finally:
        os.close(fd)


class EmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        path = os.environ[LOG_VARIABLE]
        seconds = float(os.environ.get(SECONDS_VARIABLE, "0.25"))
        for message in email_messages:
            record = {"to": list(message.to), "subject": message.subject, "pid": os.getpid()}
            _append(path, {"event": "start", **record})
            time.sleep(seconds)
            _append(path, {"event": "sent", **record})
        return len(email_messages)
