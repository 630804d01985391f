"""The conversation's language: sticky across short messages, changed by a clear message or the fan.

A fan who wrote three Spanish messages and then "ok", "VT-482913", "👍" or "Buds Pro?" is still
answered in Spanish: those messages carry no language. The rule, applied to every message:

1. The fan asks: `/language es` (Telegram, the shell) or a message made only of a language request
   ("in English please", "¿hablas inglés?", "auf Deutsch bitte", "parlez-vous français") switches
   at once.
2. Otherwise the message is identified with the conversation's language as the prior
   (`nlu.language.detect_language`). "und", or the conversation's language: nothing changes.
3. Another language switches after one clear long message (at least `LONG_WORDS` words and
   confidence at least `CLEAR_CONFIDENCE` against the prior) or after two short messages in a row
   that both read as that same language; one short message alone ("thanks" in a Spanish
   conversation) is remembered as a candidate and answered in the conversation's language.
4. Before any language is known, the first message identified with confidence at least
   `FIRST_CONFIDENCE` sets it; until then the fan's platform language (Telegram's `language_code`)
   when configured, else the brand's default. Made-up words ("blorp flarn snig") get a weak reading
   of some language (German at 0.25) that must not decide the whole conversation. A first message
   that ties between some languages ("hallo": German or Dutch) picks one of them: the platform
   language or the brand's default when it is among them; a one-word greeting, which opens the
   conversation, takes the first of them in the brand's order otherwise ("hallo" is never English).
   Later, such a message (and "ok", "ach") carries no language: the conversation keeps its own.

The state lives in the conversation's stored state (`language`, `language_candidate`), so every
fancare process sharing the store continues it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nlu.language import detect_language, is_greeting, tied_languages

#: a message this long (words with letters) that reads clearly as another language switches at once
LONG_WORDS = 4
CLEAR_CONFIDENCE = 0.9
#: a conversation's first language needs this much: on the 819 messages of benchmarks/language_id.py
#: (no prior) 0.3 holds back 2 of the 13 wrong first readings and 1 right one (it waits for the
#: fan's next message), and nonsense words ("blorp flarn snig", "zorp blick": 0.25)
FIRST_CONFIDENCE = 0.3
#: state keys in the conversation's stored state
STATE_KEY = "language"
CANDIDATE_KEY = "language_candidate"

#: how each language is named, by fans writing in the twelve demo languages (casefolded; one token)
LANGUAGE_NAMES: dict[str, tuple[str, ...]] = {
    "en": ("english", "inglés", "ingles", "englisch", "anglais", "inglês", "inglese", "engels", "angielsku",
           "angielski", "ingilizce", "английски", "английском", "английский", "الإنجليزية", "الانجليزية",
           "بالإنجليزية", "بالانجليزية", "بالانجليزي", "بالإنجليزي", "अंग्रेज़ी", "अंग्रेजी", "इंग्लिश"),
    "es": ("spanish", "español", "espanol", "castellano", "spanisch", "espagnol", "espanhol", "spagnolo", "spaans",
           "hiszpańsku", "hiszpański", "ispanyolca", "испански", "испанском", "الإسبانية", "بالإسبانية",
           "स्पेनिश"),
    "de": ("german", "alemán", "aleman", "deutsch", "allemand", "alemão", "alemao", "tedesco", "duits",
           "niemiecku", "niemiecki", "almanca", "немецки", "немецком", "الألمانية", "بالألمانية", "जर्मन"),
    "fr": ("french", "francés", "frances", "französisch", "français", "francais", "francês", "francese", "frans",
           "francusku", "francuski", "fransızca", "французски", "французском", "الفرنسية", "بالفرنسية",
           "फ्रेंच"),
    "pt": ("portuguese", "portugués", "portugues", "portugiesisch", "portugais", "português", "portoghese",
           "portugees", "portugalsku", "portekizce", "португальски", "португальском", "البرتغالية",
           "بالبرتغالية", "पुर्तगाली"),
    "it": ("italian", "italiano", "italienisch", "italien", "italiaans", "włosku", "wlosku", "italyanca",
           "итальянски", "итальянском", "الإيطالية", "بالإيطالية", "इतालवी"),
    "nl": ("dutch", "neerlandés", "holandés", "niederländisch", "holländisch", "néerlandais", "holandês",
           "olandese", "nederlands", "niderlandzku", "holendersku", "felemenkçe", "hollandaca", "нидерландски",
           "голландски", "الهولندية", "بالهولندية", "डच"),
    "pl": ("polish", "polaco", "polnisch", "polonais", "polonês", "polacco", "pools", "polsku", "polski",
           "lehçe", "польски", "польском", "البولندية", "بالبولندية", "पोलिश"),
    "tr": ("turkish", "turco", "türkisch", "turc", "turks", "turecku", "türkçe", "turkce", "турецки",
           "турецком", "التركية", "بالتركية", "तुर्की"),
    "ru": ("russian", "ruso", "russisch", "russe", "russo", "rosyjsku", "rusça", "rusca", "русски",
           "русском", "русский", "الروسية", "بالروسية", "रूसी"),
    "ar": ("arabic", "árabe", "arabe", "arabisch", "arabo", "arabsku", "arapça", "arapca", "арабски",
           "арабском", "العربية", "بالعربية", "بالعربي", "عربي", "अरबी"),
    "hi": ("hindi", "hindí", "hindou", "хинди", "الهندية", "بالهندية", "हिंदी", "हिन्दी"),
}
_NAME_TO_CODE = {name: code for code, names in LANGUAGE_NAMES.items() for name in names}

#: what may surround a language name in a pure request: "can you speak", "in ... please",
#: "¿hablas ...?", "auf ... bitte", "parlez-vous ...", "po ... proszę", "... konuşabilir misin"
REQUEST_WORDS = frozenset("""
in en auf em po по на op het al na ile में mein
please pls plz por favor bitte s'il vous plaît plait per favore alsjeblieft aub graag proszę prosze lütfen
пожалуйста من فضلك कृपया
can could would you do does speak talk write answer reply respond to me with only now from on switch change
habla hablas hablar háblame hablame hablame puedes podrías escribe escríbeme escribir responde responder cambia
sprichst sprechen sprich sprecht spricht schreib schreiben antworte antworten du sie kannst können bitte wechsel
parlez parles parler parle écrire ecrire écris ecris répondre repondre tu pouvez peux passe passez
fala falas falar fale escreve escrever você voce pode podes
parli parla parlare scrivi scrivere rispondi puoi può
spreek spreekt spreken praat praten schrijf schrijven je jij u kun kunt kan
mówisz mówi mówicie mówić mowisz mowic pisz napisz odpowiedz czy możesz mozesz pan pani
konuş konus konuşur konuşabilir konusabilir musun misin mısın misiniz yaz yazar yazabilir
говоришь говорите говорить пиши напиши пишите ответь отвечай можешь можете вы ты
هل تتكلم تتحدث تحدث تكلم تحكي اكتب
क्या आप बोलो बोलिए बोलते बात करो करें करिए लिखो में
language idioma sprache langue língua lingua taal język jezyk dil язык لغة भाषा
""".split())

_COMMAND = re.compile(r"^/(?:language|lang|idioma|sprache|langue)(?:@\S+)?(?:\s+(?P<arg>\S+))?\s*$", re.IGNORECASE)


def _tokens(text: str) -> list[str]:
    """Casefolded words with surrounding punctuation stripped ("¿hablas", "inglés?" -> "hablas",
    "inglés"); hyphens split ("parlez-vous", "по-английски")."""
    out = []
    for raw in text.casefold().replace("-", " ").split():
        t = raw.strip("".join(ch for ch in raw if unicodedata.category(ch)[0] in "PS"))
        if t:
            out.append(t)
    return out


def language_named(word: str, languages: Sequence[str] | None = None) -> str | None:
    """The code for a language name or code ("es", "Spanish", "español", "по-русски" -> its tokens)."""
    w = word.strip().casefold()
    code = w if w in LANGUAGE_NAMES else _NAME_TO_CODE.get(w)
    if code is None or (languages is not None and code not in languages):
        return None
    return code


def language_command(text: str) -> tuple[bool, str | None]:
    """`/language es`: (True, "es"); `/language` alone: (True, None); anything else: (False, None).
    The argument is returned as typed (a code or a name); `language_named` resolves it."""
    m = _COMMAND.match(text.strip())
    if not m:
        return False, None
    return True, m.group("arg")


def requested_language(text: str, languages: Sequence[str] | None = None) -> str | None:
    """The language a message asks for, when it is nothing but such a request: one language name
    and only request words around it ("in English please", "¿hablas inglés?", "auf Deutsch bitte").
    "¿el manual está en inglés?" asks about the manual, not for English: None."""
    toks = _tokens(text)
    if not toks or len(toks) > 7:
        return None
    named = [t for t in toks if t in _NAME_TO_CODE]
    if len(named) != 1 or any(t not in REQUEST_WORDS and t not in _NAME_TO_CODE for t in toks):
        return None
    code = _NAME_TO_CODE[named[0]]
    return code if languages is None or code in languages else None


@dataclass(frozen=True)
class LanguageChoice:
    """What the turn is answered in, and why (shown in `--debug`)."""

    language: str
    detected: str  # this message's own reading ("und" when it carries no language)
    confidence: float
    reason: str  # asked | command | first | kept | switched | candidate | default
    state: dict[str, Any] = field(default_factory=dict)  # the keys to store with the conversation
    #: a command or a pure request ("in English please"): the reply is a confirmation, not the policy's
    request_only: bool = False
    #: `/language` with no or an unknown argument: the reply lists the languages
    list_languages: bool = False


def _words(text: str) -> int:
    return sum(1 for t in _tokens(text) if any(ch.isalpha() for ch in t))


def choose_language(text: str, state: dict[str, Any] | None, *, languages: Sequence[str], default: str,
                    contact_language: str | None = None) -> LanguageChoice:
    """Apply the rule in the module docstring to one message. `state`: the conversation's stored
    state (read only; the new keys come back in `LanguageChoice.state`)."""
    state = state or {}
    current = state.get(STATE_KEY) if state.get(STATE_KEY) in languages else None
    platform = (contact_language or "").split("-")[0].split("_")[0].casefold() or None
    fallback = current or (platform if platform in languages else None) or default

    is_command, arg = language_command(text)
    if is_command:
        code = language_named(arg, languages) if arg else None
        if code is None:
            return LanguageChoice(fallback, "und", 0.0, "command", {}, request_only=True, list_languages=True)
        return LanguageChoice(code, code, 1.0, "command", {STATE_KEY: code, CANDIDATE_KEY: None}, request_only=True)
    asked = requested_language(text, languages)
    if asked is not None:
        return LanguageChoice(asked, asked, 1.0, "asked", {STATE_KEY: asked, CANDIDATE_KEY: None},
                              request_only=True)

    code, conf = detect_language(text, languages, prior=current)
    if code == "und" and current is None:
        tie = _break_tie(text, languages, platform, default)
        if tie is not None:
            return LanguageChoice(tie, code, conf, "first", {STATE_KEY: tie, CANDIDATE_KEY: None})
    if code == "und":
        return LanguageChoice(fallback, code, conf, "kept" if current else "default", {})
    if current is None:
        if conf < FIRST_CONFIDENCE:
            return LanguageChoice(fallback, code, conf, "default", {})
        return LanguageChoice(code, code, conf, "first", {STATE_KEY: code, CANDIDATE_KEY: None})
    if code == current:
        return LanguageChoice(current, code, conf, "kept", {CANDIDATE_KEY: None} if state.get(CANDIDATE_KEY) else {})
    clear = _words(text) >= LONG_WORDS and conf >= CLEAR_CONFIDENCE
    if clear or state.get(CANDIDATE_KEY) == code:
        return LanguageChoice(code, code, conf, "switched", {STATE_KEY: code, CANDIDATE_KEY: None})
    return LanguageChoice(current, code, conf, "candidate", {CANDIDATE_KEY: code})


def _break_tie(text: str, languages: Sequence[str], platform: str | None, default: str) -> str | None:
    """The first message's language when it ties between some configured languages ("hallo": de, nl):
    the platform's or the brand's default when among them, else for a one-word greeting the first of
    them in the brand's order; None: no such tie (the caller falls back as before)."""
    tied = tied_languages(text, languages)
    if not tied:
        return None
    for preferred in (platform, default):
        if preferred in tied:
            return preferred
    return tied[0] if is_greeting(text) else None


#: the confirmation after a change, in the new language (`{name}`: the language's own name)
CONFIRMATIONS: dict[str, str] = {
    "en": "Okay, I'll write in English from now on.",
    "es": "De acuerdo, a partir de ahora te escribo en español.",
    "de": "Alles klar, ich schreibe ab jetzt auf Deutsch.",
    "fr": "D'accord, je vous écris en français à partir de maintenant.",
    "pt": "Combinado, a partir de agora escrevo em português.",
    "it": "Va bene, da ora in poi ti scrivo in italiano.",
    "nl": "Oké, ik schrijf vanaf nu in het Nederlands.",
    "pl": "Dobrze, od teraz piszę po polsku.",
    "tr": "Tamam, bundan sonra Türkçe yazacağım.",
    "ru": "Хорошо, теперь я буду писать по-русски.",
    "ar": "حسنًا، سأكتب لك بالعربية من الآن.",
    "hi": "ठीक है, अब से मैं हिंदी में लिखूँगा।",
}
#: each language's own name, for the `/language` list
NATIVE_NAMES: dict[str, str] = {
    "en": "English", "es": "Español", "de": "Deutsch", "fr": "Français", "pt": "Português", "it": "Italiano",
    "nl": "Nederlands", "pl": "Polski", "tr": "Türkçe", "ru": "Русский", "ar": "العربية", "hi": "हिन्दी",
}


def confirmation(choice: LanguageChoice, languages: Sequence[str]) -> str:
    """The reply to a language request: the confirmation, or the list for `/language` alone."""
    if choice.list_languages:
        listed = ", ".join(f"{NATIVE_NAMES.get(c, c)} (/language {c})" for c in languages)
        return f"I can write in: {listed}."
    return CONFIRMATIONS.get(choice.language, f"Okay: {NATIVE_NAMES.get(choice.language, choice.language)}.")
