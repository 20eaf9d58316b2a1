"""/api/docs/ (Swagger UI) and its own Content-Security-Policy. Who may read it and /api/schema/
is `verify_site.permissions.ApiDocsAllowed` (the API_DOCS_PUBLIC setting).

The Swagger UI page is served split (its start-up script is a separate file, no inline script) and
its one inline <style> block is allowed by its hash only, on that page only: the exception is
narrower than 'unsafe-inline' and documented in docs/security-headers.md.
"""

import base64
import hashlib
import re
from pathlib import Path

import drf_spectacular
from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularSwaggerSplitView

SWAGGER_TEMPLATE = Path(drf_spectacular.__file__).parent / "templates" / "drf_spectacular" / "swagger_ui.html"


def _inline_style_hashes() -> list[str]:
    """The CSP source for each inline <style> block of drf-spectacular's Swagger UI template, as the
    browser hashes it (the exact text between the tags)."""
    text = SWAGGER_TEMPLATE.read_text(encoding="utf-8")
    return [f"'sha256-{base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()}'"
            for block in re.findall(r"<style>(.*?)</style>", text, flags=re.S)]


SWAGGER_STYLE_SOURCES = _inline_style_hashes()


@method_decorator(csp_update({"style-src": SWAGGER_STYLE_SOURCES}), name="dispatch")
class ApiDocsView(SpectacularSwaggerSplitView):
    pass
