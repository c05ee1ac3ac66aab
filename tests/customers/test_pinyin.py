"""The pinyin search keys of a name (customers/pinyin.py) are exactly pypinyin's ``lazy_pinyin`` of the
name, although each segmented word's conversion is remembered."""

import pytest
from pypinyin import Style, lazy_pinyin

from customers.pinyin import name_search_keys

NAMES = ["张伟", "重庆", "曾国藩", "单雄信", "解缙", "区美玲", "长孙无忌", "乐嘉", "银行行长", "欧阳娜娜", "覃", "㐀",
         "李 雷", " 万艳曦 ", "Tom 张", "张A伟", "zhang伟", "😀张", "123", "", "  ", "重重", "朝阳路"]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_the_keys_are_lazy_pinyins(name):
    syllables = lazy_pinyin(name, style=Style.NORMAL, errors="ignore")

    # Twice: the second time from the remembered words.
    assert (
        name_search_keys(name)
        == name_search_keys(name)
        == (
            "".join(syllables).lower()[:300],
            "".join(syllable[0] for syllable in syllables if syllable).lower()[:50],
        )
    )


def test_no_name_has_no_keys():
    assert name_search_keys(None) == ("", "")
