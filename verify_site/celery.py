import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "verify_site.settings")

app = Celery("verify_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="verify_site.celery.noop", ignore_result=True)
def noop() -> None:
    """Does nothing: the floor the outbox benchmark compares against."""
