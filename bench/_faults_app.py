"""The project's Celery app with a probe, for bench/outbox_faults.py. Each pool process appends
"<outbox id> <answered> <recorded>" to $BENCH_WINDOW_LOG for every message it records as sent:
`answered` when the mail server's "250" reached the worker (the record's statement leaves next),
`recorded` when the commit of the record was confirmed (unix times). The SMTP sink notes when it
accepted each message: a worker killed between that acceptance and the record's statement
leaving leaves a delivered message unrecorded. Once the statement has left, PostgreSQL commits it
even if the worker dies.

The code before issue 11 recorded inside one transaction around the send, so there only the
confirmed commit is noted (`answered` is "-")."""

import os
import time

from celery.signals import worker_process_init

from verify_site.celery import app

__all__ = ["app"]


@worker_process_init.connect
def _probe(**_) -> None:
    from notifications import services

    log = open(os.environ["BENCH_WINDOW_LOG"], "a", buffering=1)  # noqa: SIM115 - open for the process's life

    if hasattr(services, "_hand_over_and_record"):
        hand_over_and_record = services._hand_over_and_record

        def probed(message, hand_over, **kwargs):
            answered = []

            def timed_hand_over():
                result = hand_over()
                answered.append(time.time())
                return result

            outcome = hand_over_and_record(message, timed_hand_over, **kwargs)
            if outcome == "sent":
                log.write(f"{message.pk} {answered[0]:.6f} {time.time():.6f}\n")
            return outcome

        services._hand_over_and_record = probed
    else:
        message_send = services.message_send

        def probed_send(*, message_id, **kwargs):
            outcome = message_send(message_id=message_id, **kwargs)
            if outcome == "sent":
                log.write(f"{message_id} - {time.time():.6f}\n")
            return outcome

        services.message_send = probed_send
