"""The message catalogues: locale/<lang>/LC_MESSAGES/django.po (edited by translators, committed) and
the compiled django.mo next to each (built, not committed).

`python -m verify_site.catalogues` compiles every .po whose .mo is missing or older, with Babel (pure
Python, pinned), so `make run` and `make test` work on a fresh clone without GNU gettext. Only
`make messages` (which re-extracts the strings) needs xgettext. See docs/languages.md.
"""

import sys
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def catalogue_files() -> list[Path]:
    return sorted(LOCALE_DIR.glob("*/LC_MESSAGES/django.po"))


def compiled_path(po: Path) -> Path:
    return po.with_suffix(".mo")


def compiled_bytes(po: Path) -> bytes:
    """The .mo for one .po. Fuzzy entries are left out (gettext's rule: they are not reviewed)."""
    with po.open("rb") as source:
        catalog = read_po(source, locale=po.parent.parent.name, domain="django")
    target = BytesIO()
    write_mo(target, catalog, use_fuzzy=False)
    return target.getvalue()


def catalogue_compile(po: Path) -> Path:
    mo = compiled_path(po)
    partial = mo.with_suffix(".mo.tmp")
    partial.write_bytes(compiled_bytes(po))
    partial.replace(mo)
    return mo


def catalogues_compile(*, force: bool = False) -> list[Path]:
    """Compile each catalogue whose .mo is missing or older than its .po; the ones written."""
    written = []
    for po in catalogue_files():
        mo = compiled_path(po)
        if force or not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            written.append(catalogue_compile(po))
    return written


if __name__ == "__main__":
    for path in catalogues_compile(force="--force" in sys.argv[1:]):
        print(f"compiled {path.relative_to(LOCALE_DIR.parent)}")
