import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "verify_site.settings")

app = Celery("verify_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="verify_site.celery.noop", ignore_result=True)
def noop() -> None:
    """Does nothing: the floor the outbox benchmark compares against."""


@signals.task_postrun.connect
def _count_task(sender=None, state=None, **kwargs) -> None:
    """Counts each task run for /metrics (monitoring only, no domain logic)."""
    from verify_site.metrics import task_finished

    task_finished(sender=sender, state=state)
