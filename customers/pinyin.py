"""The pinyin keys a customer's name is searched by."""


def name_search_keys(name: str) -> tuple[str, str]:
    """The full pinyin ('zhangwei') and the initials ('zw') a name is searched by."""
    # Imported here: loading pypinyin's dictionaries takes 0.3 s, which every process (each web
    # worker, each `manage.py` command) would pay at start-up for a few writes.
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(name or "", style=Style.NORMAL, errors="ignore")
    full = "".join(syllables).lower()
    initials = "".join(syllable[0] for syllable in syllables if syllable).lower()
    return full[:300], initials[:50]
