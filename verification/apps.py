from django.apps import AppConfig


class VerificationConfig(AppConfig):
    name = "verification"
    verbose_name = "Verification"

    def ready(self) -> None:
        from notifications.kinds import on_sent

        on_sent("notice", _notice_sent)


def _notice_sent(message, now) -> None:
    """The grace period starts when the notice has actually been sent."""
    from verification.services import case_notice_sent

    case_notice_sent(case_id=message.case_ref, now=now)
