"""The pinyin keys a customer's name is searched by."""

import functools
import itertools


@functools.cache
def _pinyin():
    """pypinyin's converter as ``lazy_pinyin`` builds it (anew on every call): built once.

    Imported here: loading pypinyin's dictionaries takes 0.3 s, which every process (each web
    worker, each `manage.py` command) would pay at start-up for a few writes."""
    from pypinyin import Style
    from pypinyin.converter import UltimateConverter
    from pypinyin.core import Pinyin

    return Pinyin(UltimateConverter(v_to_u=False, neutral_tone_with_five=False, tone_sandhi=False)), Style.NORMAL


@functools.lru_cache(maxsize=100000)
def _word_syllables(word: str) -> tuple[str, ...]:
    """The syllables of one word of a name as segmented by pypinyin: its conversion depends on the
    word alone, and names share their words (surnames, given-name characters), so each is converted
    once (the DMS import of 100,000 names spent 3 s of its parse in pypinyin's per-call set-up and
    conversion)."""
    pinyin, style = _pinyin()
    readings = pinyin._converter.convert(word, style, False, "ignore", strict=True)
    return tuple(itertools.chain(*readings))


def name_search_keys(name: str) -> tuple[str, str]:
    """The full pinyin ('zhangwei') and the initials ('zw') a name is searched by: exactly
    ``pypinyin.lazy_pinyin(name, style=Style.NORMAL, errors="ignore")`` (the name segmented into
    words, each word converted), with the conversion of each word remembered."""
    pinyin, _style = _pinyin()
    syllables = [syllable for word in pinyin.seg(name or "") for syllable in _word_syllables(word)]
    full = "".join(syllables).lower()
    initials = "".join(syllable[0] for syllable in syllables if syllable).lower()
    return full[:300], initials[:50]
