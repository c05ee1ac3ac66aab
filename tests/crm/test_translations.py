"""The UI is Chinese by default: every user-facing string of the catalogue has a translation."""

from pathlib import Path

import polib

CATALOGUE = Path(__file__).resolve().parent.parent.parent / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def test_the_chinese_catalogue_is_complete():
    catalogue = polib.pofile(str(CATALOGUE))

    assert [entry.msgid for entry in catalogue.untranslated_entries()] == []
    assert [entry.msgid for entry in catalogue.fuzzy_entries()] == []


def test_the_compiled_catalogue_is_up_to_date():
    compiled = polib.mofile(str(CATALOGUE.with_suffix(".mo")))
    source = polib.pofile(str(CATALOGUE))

    def singulars(catalogue):
        return {
            (entry.msgctxt, entry.msgid): entry.msgstr
            for entry in catalogue
            if entry.msgid and not entry.msgid_plural and not entry.obsolete
        }

    assert singulars(compiled) == singulars(source), "run `make messages` to recompile django.mo"
