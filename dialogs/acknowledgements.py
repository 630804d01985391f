"""Acknowledgements: "ok", "vale", "d'accord", "tamam", "alles klar" - a fan saying they heard us.

The classifier has no intent for them and reads a lone one however its few letters fall: on the demo
model "ok" is a greeting (0.66), "Ok" out of scope (0.51, a fallback: "Sorry, I didn't quite get
that"), "vale" thanks, "d'accord" a goodbye (0.83). None of those is what the fan meant, so the
policy recognises them by this closed list, in the brand's languages, whatever the reading: outside
a task the fan is asked "anything else?", inside one the question stands.

A message is an acknowledgement when its words, read left to right, are all entries of the list
("ok", "ok ok", "ah vale", "ok cool", "ach so"); one more word ("ok hi", "ok thanks", "ok where is my
order") makes it something else, for the classifier to read.
"""

from __future__ import annotations

import unicodedata

#: one entry a line per language; an entry of several words ("alles klar") matches those words in a row
_ENTRIES = """
ok | okay | okey | oke | okie | okies | okidoki | okey dokey | k | kk | alright | all right | right | got it |
gotcha | understood | i see | cool | fine | noted | sure | ah | ahh | oh | ohh | aha | hm | hmm | hmmm | mhm |
uh huh | o k
vale | de acuerdo | entendido | entiendo | perfecto | bueno | ya | okis | ah vale | va
ach | ach so | achso | alles klar | in ordnung | verstanden | gut | na gut | jo | passt | aha
d accord | dac | dacc | entendu | compris | parfait | très bien | bon | ça marche | ca marche | ah bon
va bene | capito | perfetto | d accordo | certo | ho capito
tá | ta | ta bom | tá bom | tudo bem | entendi | beleza | combinado | perfeito
oké | prima | goed | begrepen | helder | duidelijk | akkoord | oke
okej | dobrze | jasne | rozumiem | w porządku | spoko | dobra
tamam | tamamdır | peki | anladım | olur | anlaşıldı
ок | окей | ладно | хорошо | понятно | ясно | ага | угу
حسنا | حسناً | تمام | ماشي | طيب | فهمت
ठीक | ठीक है | अच्छा | समझ गया | समझ गई | ओके
"""


def words(text: str) -> tuple[str, ...]:
    """The message's words, case-folded: runs of letters, marks and digits (so "d'accord" is d, accord,
    and the vowel signs of "ठीक है" stay in their words, which a regex `\\w` would split)."""
    out: list[str] = []
    word: list[str] = []
    for ch in unicodedata.normalize("NFKC", text).casefold():
        if unicodedata.category(ch)[0] in "LMN":
            word.append(ch)
        elif word:
            out.append("".join(word))
            word = []
    if word:
        out.append("".join(word))
    return tuple(out)


ACKNOWLEDGEMENTS: frozenset[tuple[str, ...]] = frozenset(
    w for line in _ENTRIES.strip().splitlines() for entry in line.split("|") if (w := words(entry)))
_LONGEST = max(len(e) for e in ACKNOWLEDGEMENTS)
#: a longer message is a sentence, not an acknowledgement, even if it only repeats "ok"
MAX_WORDS = 4


def is_acknowledgement(text: str) -> bool:
    """The whole message is acknowledgements ("ok", "OK!", "Vale, vale", "ah d'accord", "ठीक है")."""
    ws = words(text)
    if not ws or len(ws) > MAX_WORDS or text.lstrip().startswith("/"):
        return False
    # can the words be cut into entries of the list? (at most MAX_WORDS words: a small search)
    ends = {0}
    for i in range(len(ws)):
        if i in ends:
            for n in range(1, min(_LONGEST, len(ws) - i) + 1):
                if ws[i:i + n] in ACKNOWLEDGEMENTS:
                    ends.add(i + n)
    return len(ws) in ends
