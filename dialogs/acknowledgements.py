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


#: a yes to an offer ("Shall I also start your refund?"), one line per language; unlike the list above,
#: not what only says "I heard you" ("hmm", "i see", "ah"). An entry of several words matches them in a row.
_YES_ENTRIES = """
yes | yeah | yea | yep | yup | sure | ok | okay | okey | k | please | yes please | of course | go ahead | do it | alright
sí | si | claro | vale | dale | venga | por favor | de acuerdo | va | sip | porfa
ja | jawohl | klar | gerne | gern | bitte | genau | natürlich | jo | jap | okay | passt
oui | ouais | d accord | dac | volontiers | bien sûr | carrément | ça marche | ca marche | stp | svp
sim | claro | pode | pode ser | por favor | beleza | bora | isso | tá | ta bom | tá bom | com certeza
sì | certo | va bene | volentieri | certamente | per favore | perfetto | d accordo
ja | graag | prima | zeker | oké | goed | doe maar | ja hoor | ja graag | is goed
tak | jasne | pewnie | dobrze | poproszę | okej | oczywiście | spoko | dawaj | dawajcie
evet | tamam | olur | lütfen | tabii | tabi | aynen | tabii ki | olur tabi
да | ага | конечно | давай | давайте | ок | окей | хорошо | пожалуйста | угу | ладно
نعم | ايوه | أيوه | ايوا | أيوا | اه | آه | أكيد | اكيد | طيب | تمام | ماشي | حسنا | حسناً | يب | اي | إي
हाँ | हां | हा | जी | जी हाँ | ठीक | ठीक है | बिल्कुल | ज़रूर | जरूर | haan | han | haa | ji | haan ji | theek hai | thik hai |
bilkul | zaroor | jarur | ok ji
"""
AFFIRMATIONS: frozenset[tuple[str, ...]] = frozenset(
    w for line in _YES_ENTRIES.strip().splitlines() for entry in line.split("|") if (w := words(entry)))
#: any of these words turns a yes into something else: "ya no" (not any more), "ok no", "sí pero no"
_NEGATIONS = frozenset(words("no not nope nah don't dont nein nicht non pas não nao nie nee niet hayır hayir "
                             "istemiyorum нет не لا مش مو नहीं नही nahi nahin mat मत"))
#: a yes with more words is a new request ("yes but where is my order VT-482913 first")
MAX_YES_WORDS = 5


def affirms(text: str) -> bool:
    """The message opens with a yes of the brand's languages ("yes please", "vale", "d'accord",
    "gerne", "haan ji", "ايوه") and is short, with no negation in it."""
    ws = words(text)
    if not ws or len(ws) > MAX_YES_WORDS or _NEGATIONS.intersection(ws):
        return False
    return any(ws[:n] in AFFIRMATIONS for n in range(1, min(3, len(ws)) + 1))
