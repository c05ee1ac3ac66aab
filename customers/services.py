"""Writes to customer cards, vehicles and repair orders."""

from pypinyin import Style, lazy_pinyin


def name_search_keys(name: str) -> tuple[str, str]:
    """The full pinyin ('zhangwei') and the initials ('zw') a name is searched by."""
    syllables = lazy_pinyin(name or "", style=Style.NORMAL, errors="ignore")
    full = "".join(syllables).lower()
    initials = "".join(syllable[0] for syllable in syllables if syllable).lower()
    return full[:300], initials[:50]
