"""Mail: the messages Kurz sends, its outbox, and the job that sends each mail once.

A mail is written to the ``mails`` table, with a job to send it, in the transaction of the
change that causes it (an invitation, a reset), so it goes out only if that change commits.
The job sends it with aiosmtplib through ``KURZ_SMTP_URL`` (STARTTLS when the server offers
it; ``smtps://`` for TLS from the start) and marks it sent the moment the server accepted it;
a mail already marked is never sent again. Failures are retried with growing delays, except
a permanent refusal of the mail itself (a 5xx answer to its sender, recipient or content), which
fails it at once: sending it again would be refused again. Without
``KURZ_SMTP_URL`` each mail is written to the log instead (development).
"""

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from html import escape
from urllib.parse import unquote, urlsplit

import aiosmtplib
from databases import Database
from databases.core import Connection
from databases.interfaces import Record

from .config import Settings
from .jobs import GiveUp, Job, JobKind, enqueue

log = logging.getLogger(__name__)

MAIL_JOB = "mail"
SMTP_TIMEOUT = 30  # seconds, per SMTP command
# A server down for maintenance is waited for: about a day in all, then the mail is given up.
RETRY_DELAYS = (10, 30, 60, 300, 900, 1800, 3600, 3600, 7200, 7200, 14400, 14400, 28800)


@dataclass(frozen=True)
class Message:
    subject: str
    paragraphs: tuple[str, ...]
    link: str | None = None
    link_text: str = ""

    @property
    def text(self) -> str:
        parts = list(self.paragraphs)
        if self.link:
            parts.insert(1, f"{self.link_text}:\n{self.link}")
        return "\n\n".join(parts) + "\n\n-- \nKurz\n"

    @property
    def html(self) -> str:
        parts = [f"<p>{escape(paragraph)}</p>" for paragraph in self.paragraphs]
        if self.link:
            url = escape(self.link, quote=True)
            parts.insert(1, f'<p><a href="{url}">{escape(self.link_text)}</a></p>')
        return (
            '<!doctype html><html><body style="font-family: sans-serif; line-height: 1.5">'
            + "".join(parts)
            + '<p style="color: #666">Kurz</p></body></html>'
        )


def verification_message(link: str) -> Message:
    return Message(
        "Confirm your email address for Kurz",
        (
            "Please confirm that this is your email address.",
            "If you did not register with Kurz, ignore this mail: nothing happens without the"
            " link.",
        ),
        link,
        "Confirm my email address",
    )


def invitation_message(org_name: str, role: str, link: str) -> Message:
    return Message(
        f"You are invited to {org_name} on Kurz",
        (
            f"You are invited to join {org_name} on Kurz as {role}.",
            "Register (or log in) with this email address and confirm it to join. If you did"
            " not expect this invitation, ignore this mail.",
        ),
        link,
        "Join on Kurz",
    )


def added_message(org_name: str, role: str, link: str) -> Message:
    return Message(
        f"You were added to {org_name} on Kurz",
        (
            f"You were added to {org_name} on Kurz as {role}.",
            "If you did not expect this, tell an administrator of the organization.",
        ),
        link,
        f"Open {org_name}",
    )


def reset_message(link: str) -> Message:
    return Message(
        "Reset your Kurz password",
        (
            "Someone asked to reset the password of the Kurz account of this address.",
            "The link works once, within one hour. If you did not ask for it, ignore this mail:"
            " your password stays as it is.",
        ),
        link,
        "Choose a new password",
    )


def notice_message(subject: str, what: str) -> Message:
    """A security notice about the account (password changed, two-factor turned off)."""
    return Message(
        subject,
        (
            what,
            "If this was not you, reset your password at once and tell your administrator.",
        ),
    )


async def queue_mail(connection: Connection | Database, recipient: str, message: Message) -> int:
    """Write the mail and the job that sends it (inside the caller's transaction)."""
    mail_id: int = await connection.fetch_val(
        """INSERT INTO mails (recipient, subject, text_body, html_body)
           VALUES (:recipient, :subject, :text_body, :html_body) RETURNING id""",
        {
            "recipient": recipient,
            "subject": message.subject,
            "text_body": message.text,
            "html_body": message.html,
        },
    )
    await enqueue(connection, MAIL_JOB, {"mail_id": mail_id})
    return mail_id


def _envelope(settings: Settings, row: Record) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = row["recipient"]
    message["Subject"] = row["subject"]
    message["Date"] = formatdate(usegmt=True)
    # Stable per mail: should a crash make it go out twice, mail clients show it once.
    domain = settings.mail_from.rpartition("@")[2].strip(" >") or "localhost"
    message["Message-ID"] = f"<kurz-mail-{row['id']}@{domain}>"
    # Links stay whole in the raw message (no quoted-printable line breaks inside a token):
    # ASCII goes as 7bit, and the HTML part is made ASCII with character references.
    text = row["text_body"]
    message.set_content(text, cte="7bit" if text.isascii() else "quoted-printable")
    html = row["html_body"].encode("ascii", "xmlcharrefreplace").decode()
    message.add_alternative(html, subtype="html", cte="7bit")
    return message


async def _deliver(smtp_url: str, message: EmailMessage) -> None:
    url = urlsplit(smtp_url)
    tls = url.scheme == "smtps"
    await aiosmtplib.send(
        message,
        hostname=url.hostname,
        port=url.port or (465 if tls else 587),
        username=unquote(url.username) if url.username else None,
        password=unquote(url.password) if url.password else None,
        use_tls=tls,
        start_tls=None if not tls else False,  # None: STARTTLS when the server offers it
        timeout=SMTP_TIMEOUT,
    )


def _refused_for_good(error: aiosmtplib.SMTPException) -> bool:
    """A permanent (5xx) answer to the mail's own transaction. Refusals of the connection,
    STARTTLS or the login are not: they are about the server or its settings, which get fixed."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return all(refusal.code >= 500 for refusal in error.recipients)
    refusals = (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError)
    return isinstance(error, refusals) and error.code >= 500


def mail_job(settings: Settings) -> JobKind:
    """The job kind that sends one outbox mail."""

    async def send(db: Database, job: Job) -> None:
        row = await db.fetch_one(
            """SELECT id, recipient, subject, text_body, html_body FROM mails
                WHERE id = :id AND sent_at IS NULL""",
            {"id": job.payload["mail_id"]},
        )
        if row is None:  # sent already
            return
        if settings.smtp_url:
            try:
                await _deliver(settings.smtp_url, _envelope(settings, row))
            except aiosmtplib.SMTPException as error:
                if _refused_for_good(error):
                    raise GiveUp(f"the mail server refused this mail: {error}") from error
                raise
        else:
            log.info(
                "mail to %s, only logged as KURZ_SMTP_URL is not set\nSubject: %s\n\n%s",
                row["recipient"],
                row["subject"],
                row["text_body"],
            )
        # Right after the server accepted it; the body may hold a token, so it goes too.
        await db.execute(
            """UPDATE mails SET sent_at = now(), text_body = '', html_body = ''
                WHERE id = :id""",
            {"id": row["id"]},
        )

    return JobKind(MAIL_JOB, send, retry_delays=RETRY_DELAYS, concurrency=5)
