"""The project's shape: production settings, the compose file, the management commands, admin."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command
from django.test import override_settings
from rest_framework_api_key.models import APIKey

from notifications.mail import dev_mailbox_list
from scheduling.models import Representative, WorkingHours
from tests.factories import CaseFactory
from verification.models import AuditEvent, Case, CaseStatus, GracePolicy

ROOT = Path(__file__).resolve().parent.parent


_OURS = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "DJANGO_SETTINGS_MODULE", "REDIS_URL",
         "CELERY_BROKER_URL", "EMAIL_BACKEND", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in _OURS}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env},
        capture_output=True, text=True, timeout=120, check=False,
    )


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x7#Qm2!vLp9@Rz4$Tn8&Wb3*Yc6^Hd1(Jf5)Kg0-Ls2+Mq7=Nr4",
    "ALLOWED_HOSTS": "verify.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/verify_site",
}


def test_check_deploy_passes_with_only_the_three_production_variables():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_are_secure_by_default():
    code = (
        "from django.conf import settings as s;"
        "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE,"
        " s.CSRF_COOKIE_SECURE, s.DATABASES['default']['CONN_MAX_AGE'], s.EMAIL_BACKEND)"
    )
    result = run_manage("shell", "-v", "0", "-c", code, env=PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False", "True", "31536000", "True", "True", "60", "django.core.mail.backends.smtp.EmailBackend"
    ]


def test_production_refuses_to_start_without_a_secret_key():
    result = run_manage("check", env={**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_embedded_default_needs_no_server():
    code = "from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL)"
    result = run_manage("shell", "-v", "0", "-c", code, env={"DEBUG": "true"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "filesystem://"]


def test_compose_runs_the_production_shape():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    assert services["web"]["command"][0] == "gunicorn"
    assert "verify_site.wsgi:application" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "verify_site", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "verify_site", "beat"]
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert "healthcheck" in services[name], name
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DEBUG"] == "false"
        for variable in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "EMAIL_HOST"):
            assert variable in env, (name, variable)
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["CELERY_BROKER_URL"].startswith("redis://")
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert "${SECRET_KEY:?" in (ROOT / "docker-compose.yml").read_text()  # no secret in the repo


def test_every_environment_variable_is_in_the_settings_table():
    readme = (ROOT / "docs" / "settings.md").read_text()
    settings_source = (ROOT / "verify_site" / "settings.py").read_text()
    import re

    variables = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', settings_source))
    assert variables >= {"DATABASE_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "REDIS_URL", "PUBLIC_BASE_URL"}
    for variable in variables:
        assert f"| `{variable}` |" in readme, variable


@pytest.mark.django_db
def test_healthz_answers_without_host_check_or_https(client):
    response = client.get("/healthz", HTTP_HOST="internal-name:8000")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_seed_demo_is_idempotent(capsys):
    call_command("seed_demo")
    first = capsys.readouterr().out
    call_command("seed_demo")
    second = capsys.readouterr().out
    assert User.objects.filter(username__in=["admin", "reviewer"]).count() == 2
    assert User.objects.get(username="admin").is_superuser
    reps = Representative.objects.all()
    assert reps.count() == 6 and len({r.timezone for r in reps}) == 6
    assert WorkingHours.objects.filter(representative__in=reps).count() == 6 * 7 * 2  # every day
    assert Case.objects.filter(status=CaseStatus.OPEN, freelancer__external_id__startswith="fl-100").count() == 5
    assert GracePolicy.objects.filter(reason_code="default").exists()
    assert APIKey.objects.filter(name="demo-marketplace").count() == 1
    assert "Marketplace API key (shown once" in first and "shown once" not in second
    key = first.split("only its hash is stored): ")[1].split()[0]
    assert APIKey.objects.is_valid(key)
    assert "admin/admin" in first and "/c/" in first


@pytest.mark.django_db
def test_seed_demo_refuses_without_debug():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo")
    assert not User.objects.exists()


@pytest.mark.django_db
def test_create_api_key_prints_a_working_key_once(capsys):
    call_command("create_api_key", "acme-marketplace")
    key = capsys.readouterr().out.strip()
    stored = APIKey.objects.get(name="acme-marketplace")
    assert key.startswith(stored.prefix + ".") and key not in stored.hashed_key
    assert APIKey.objects.is_valid(key)


@pytest.mark.django_db
def test_admin_withdraw_action_asks_for_a_reason_then_audits(admin_client, admin_user):
    case = CaseFactory()
    url = "/admin/verification/case/"
    form = admin_client.post(url, {"action": "action_case_withdraw", "_selected_action": [case.pk]})
    assert form.status_code == 200 and b"Recorded in the audit log" in form.content
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN  # nothing happens before a reason is given
    done = admin_client.post(url, {"action": "action_case_withdraw", "_selected_action": [case.pk],
                                   "reason": "Duplicate flag"})
    assert done.status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.WITHDRAWN
    event = AuditEvent.objects.get(case=case, action="withdrawn")
    assert (event.actor, event.reason) == (f"user:{admin_user.username}", "Duplicate flag")


@pytest.mark.django_db
def test_admin_shows_status_read_only_and_audit_events_cannot_be_edited(admin_client):
    case = CaseFactory()
    page = admin_client.get(f"/admin/verification/case/{case.pk}/change/")
    assert page.status_code == 200 and b'name="status"' not in page.content
    AuditEvent.objects.create(case=case, at=case.created_at, actor="system", action="noted")
    event = AuditEvent.objects.get()
    assert admin_client.post(f"/admin/verification/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
def test_dev_mailbox_backend_prints_and_keeps_the_message(settings, tmp_path, capsys):
    settings.EMAIL_BACKEND = "notifications.mail.DevMailboxBackend"
    settings.DEV_MAILBOX_DIR = tmp_path
    mail.send_mail("Your verification call", "Book here: http://x/c/abc/", "v@localhost", ["fl@example.com"])
    assert "Your verification call" in capsys.readouterr().out
    [(message_id, message)] = dev_mailbox_list()
    assert message["To"] == "fl@example.com"
    assert "Book here" in message.get_body(preferencelist=("plain",)).get_content()


def test_the_site_stylesheet_is_collected_for_production():
    from django.contrib.staticfiles import finders

    assert finders.find("verify_site/site.css"), "base.html would 500 under the manifest storage"


def test_the_file_system_broker_keeps_all_its_folders_under_var():
    code = "from django.conf import settings as s; print(sorted(s.CELERY_BROKER_TRANSPORT_OPTIONS.items()))"
    result = run_manage("shell", "-v", "0", "-c", code, env={"DEBUG": "true"})
    assert result.returncode == 0, result.stderr
    for folder in ("control_folder", "data_folder_in", "data_folder_out", "processed_folder"):
        assert f"('{folder}', '{ROOT / 'var'}/" in result.stdout, folder


def test_every_beat_entry_runs_a_registered_task():
    from django.conf import settings

    from verify_site.celery import app

    app.loader.import_default_modules()
    names = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "verification.tasks.idempotency_keys_prune" in names
    assert [name for name in names if name not in app.tasks] == []


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_seed_demo_gives_every_operations_panel_something_to_show(capsys):
    from django.utils import timezone

    from verification.operations.capacity import forecast
    from verification.operations.fairness import fairness
    from verification.operations.funnel import funnel
    from verification.operations.now import now_panel
    from verification.operations.period import period_default

    call_command("seed_demo")
    call_command("seed_demo")  # idempotent: the history is added once
    assert "Operations history:" not in capsys.readouterr().out.split("Demo logins")[-1]
    now = timezone.now()
    period = period_default(now=now)
    panel = now_panel(now=now)
    assert panel.due.counts[24] >= 3 and panel.outbox.failed == 1
    assert {item.kind for item in panel.pending if item.count} >= {"ACCOMMODATION", "ESCALATION"}
    result = funnel(period=period)
    assert result.counts["flagged"] > 20 and result.counts["decided"] > 0 and result.extended_cases > 0
    capacity = forecast(now=now, zone_name="UTC")
    assert capacity.method == "observed" and any(day.flagged_routes for day in capacity.days)  # nobody speaks pt
    reps = fairness(period=period)
    flagged = [row.representative.user.username for row in reps.rows if row.test.flagged]
    assert flagged == ["rep-london"]
