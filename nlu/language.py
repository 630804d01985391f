"""Language identification: an accurate detector for short fan messages and a fast router.

Two detectors, for two jobs:

- `detect_language(text, languages=None, prior=None)`: the fan's language. Short chat messages
  ("Hej!", "ciao", "merci !", "ok cool") defeat both stop-word counting and n-gram models on their
  own, so several kinds of evidence are combined: the writing system (Cyrillic, Arabic, Devanagari are
  decided by script), a small lexicon of chat words per language (greetings, thanks, yes/no, support
  words, with and without accents), the words the brand's own translated texts use in only one to
  three languages (`nlu.language_corpus`: "wel" is Dutch, "reembolso" Spanish or Portuguese), the
  letters each alphabet has ("ç" is not Spanish), and lingua's n-gram model restricted to the
  brand's configured languages. Low-accuracy mode is the default (about 80 MB with the outsider
  check, against 330 MB for high-accuracy mode, which is about 1 point more accurate without a
  prior and the same with one; `nlu.language_accuracy: high` picks it; BENCHMARKS.md section 14
  has the comparison). An
  optional `prior` (the conversation's language so far) breaks ties, so "ok" in a Spanish
  conversation stays Spanish. Text without letters ("VT-482913", "👍") and
  text the evidence does not settle is "und".
- `route_language(text)`: the stop-word detector the encoder cascade routes by (English may be shed
  to MiniLM under load) and the gibberish guard reads; no model, microseconds, errs towards "not
  English" when unsure, which only costs a slower encoder.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from nlu.language_corpus import EVERYWHERE, corpus_words
from nlu.language_corpus import load as load_corpus

if TYPE_CHECKING:
    from lingua import LanguageDetector

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)

#: the languages the demo brand is configured for; `detect_language` uses them when given none
DEFAULT_LANGUAGES: tuple[str, ...] = ("en", "es", "de", "fr", "pt", "it", "nl", "pl", "tr", "ru", "ar", "hi")

STOPWORDS: dict[str, set[str]] = {
    "en": set("the a an is are was my your i you it to of and for in on with this that what where when how why "
              "can do does not no please thanks hi hello order me we our have has be will just want get".split()),
    "es": set("el la los las es mi tu yo un una que de y por para con en no sí por favor gracias hola dónde donde "
              "cuándo cómo pedido quiero está están mis del al muy pero".split()),
    "fr": set("le la les est mon ma mes je tu un une que de et pour avec en ne pas oui merci bonjour où quand "
              "comment commande veux suis des du au très mais c'est".split()),
    "de": set("der die das ist mein meine ich du ein eine und für mit nicht ja danke hallo wo wann wie bestellung "
              "will bin sind des dem den sehr aber auf".split()),
    "pt": set("o a os as é meu minha eu você um uma que de e para com em não sim obrigado olá onde quando como "
              "pedido quero está do da muito mas".split()),
    "it": set("il lo la gli le è mio mia io tu un una che di e per con non sì grazie ciao dove quando come ordine "
              "voglio sono del della molto ma".split()),
    "nl": set("de het een is mijn ik jij je en voor met niet ja bedankt hallo waar wanneer hoe bestelling wil ben "
              "zijn van op maar".split()),
    "pl": set("jest moje mój moja ja ty i w z na nie tak dziękuję cześć gdzie kiedy jak zamówienie chcę się to "
              "czy do".split()),
    "tr": set("bir ve bu ben sen için ile değil evet teşekkürler merhaba nerede ne zaman nasıl sipariş istiyorum "
              "mi mı çok ama".split()),
}

#: Chat words that point to one language even alone: greetings, thanks, goodbyes, yes/no, everyday
#: support words, the way fans type them (no accents, slang). A word listed under two languages
#: counts for both. Latin-script languages only: the others are decided by their script.
CHAT_WORDS: dict[str, set[str]] = {
    "en": set("hi hey hello thanks thank thx ty cheers bye goodbye yes yeah yep nope please pls plz help where "
              "what whats why how when order refund broken broke working still waiting wrong received cool "
              "awesome great nice love good morning evening night mate guys anyone update talk human person "
              "agent charge charging battery warranty waterproof cancel item wont doesnt dont cant isnt need "
              "the this that these those it's its was were are my your with have has just really very not "
              "i'm you're don't can't won't ridiculous terrible unacceptable awful".split()),
    "es": set("hola buenas buenos gracias adiós adios chao sí vale genial perfecto dónde donde cuánto cuanto "
              "cuesta pedido reembolso quiero necesito ayuda sigo esperando cancelar funciona funcionan roto "
              "rotos rota batería bateria dura llegó llego producto resistente agua hablar reloj carga "
              "garantía garantia tiene encanta tardes noches días dias novedad alguna".split()),
    "de": set("hallo moin servus tschüss tschüs tschau danke dank vielen bitte ja nein nee genau alles klar "
              "super toll wo meine mein bestellung kaputt will geld zurück zurueck neuigkeiten gibt guten morgen "
              "abend tag warte immer noch stornieren viel kostet akku hält lange brauche hilfe falscher artikel "
              "geliefert wasserdicht einem menschen sprechen uhr lädt nicht funktioniert garantie".split()),
    "fr": set("bonjour bonsoir salut coucou merci beaucoup oui non ouais d'accord génial genial super où "
              "commande cassé cassés casse remboursement veux nouvelles attends toujours annuler combien coûte "
              "coute batterie tient besoin aide mauvais article reçu recu étanche etanche c'est quelqu'un parler "
              "montre charge revoir ça marche s'il plaît plait quelle garantie je l'adore adore".split()),
    "pt": set("olá ola oi tudo bem obrigado obrigada valeu tchau sim não nao beleza cadê cade pedido encomenda "
              "onde está quebraram quebrou quero reembolso alguma novidade dia tarde noite ainda estou esperando "
              "cancelar quanto custa bateria dura preciso ajuda recebi produto errado prova d'água agua falar "
              "atendente relógio relogio carrega funciona garantia adorei "
              # function words no other configured language writes so ("com": es/it "con"), because
              # lingua alone reads "posso pagar com PayPal?" as Italian
              "com você voce vocês voces meu minha também tambem isso pra tá né".split()),
    "it": set("ciao buongiorno buonasera salve arrivederci grazie mille prego perfetto dov'è dove mio ordine "
              "rotte rotto rimborso voglio novità novita ancora aspettando sto annullare l'ordine quanto costa "
              "batteria dura poco bisogno aiuto ho articolo sbagliato impermeabile fantastico parlare operatore "
              "l'orologio orologio carica funziona garanzia adoro".split()),
    "nl": set("hoi hallo doei bedankt dank dankjewel dankje graag ja nee oké prima waar mijn bestelling "
              "kapot zijn wil geld terug nog nieuws goedemorgen goedenavond goedemiddag wacht steeds annuleren "
              "hoeveel kost batterij snel leeg hulp nodig verkeerd artikel ontvangen waterdicht medewerker "
              "praten horloge laadt werkt hoe lang garantie".split()),
    "pl": set("cześć czesc siema hej witam dzień dzien dobry dobranoc dzięki dzieki dziękuję dziekuje bardzo "
              "okej pa gdzie jest moje moja zamówienie zamowienie paczka działają dzialaja działa dziala chcę "
              "chce zwrot pieniędzy jakieś wieści wiesci wieczór nadal czekam anuluj ile kosztuje bateria szybko "
              "pada potrzebuję pomocy dostałem dostalam zły produkt wodoodporny rozmawiać człowiekiem zegarek "
              "ładuje jaka gwarancja uwielbiam proszę prosze".split()),
    "tr": set("merhaba selam teşekkürler tesekkurler teşekkür ederim sağol sagol eyvallah görüşürüz evet hayır "
              "tamam süper siparişim siparisim nerede bozuldu para iadesi istiyorum gelişme günaydın hala "
              "bekliyorum siparişi iptal kadar pil çabuk bitiyor yardıma ihtiyacım yanlış ürün geldi su geçirmez "
              "harika insanla konuşmak saat şarj olmuyor çalışmıyor lütfen garanti bayıldım iyi akşamlar".split()),
}

#: One-word greetings (from `CHAT_WORDS`). A greeting is how a conversation opens, so when several
#: configured languages share one ("hallo": German and Dutch) the first message still picks one of
#: them (nlu/conversation_language.py): the fan's platform language or the brand's default when it
#: is among them, else the first of them in the brand's order; never a language that does not say it.
GREETINGS: frozenset[str] = frozenset("""
hi hey hello hola buenas hallo moin servus bonjour bonsoir salut coucou olá ola oi ciao buongiorno buonasera
salve hoi cześć czesc siema hej witam merhaba selam
""".split())

#: letters (and Spanish's inverted marks) beyond a-z each Latin-script language writes. A message
#: with "ç" is French, Portuguese or Turkish, never Spanish ("como peço reembolso?" is Portuguese
#: although lingua's trigrams lean Spanish); each such letter counts `ACCENT_WEIGHT` for every
#: configured language that writes it, when some configured language does not. A language missing
#: here writes every letter (no evidence against it).
ALPHABETS: dict[str, str] = {
    "en": "", "es": "áéíóúñü¿¡", "pt": "áàâãéêíóôõúç", "fr": "àâæçéèêëîïôœùûüÿ", "it": "àèéìíòóùú",
    "de": "äöüß", "nl": "éèëïóöü", "pl": "ąćęłńóśźż", "tr": "âçğıîöşü",
}

#: the stop-word router's accent hints (one language per letter; `route_language` only)
_DIACRITIC_HINT = {"ñ": "es", "¿": "es", "¡": "es", "ç": "fr", "è": "fr", "ê": "fr", "ß": "de", "ä": "de",
                   "ö": "de", "ü": "de", "ã": "pt", "õ": "pt", "ł": "pl", "ą": "pl", "ę": "pl", "ś": "pl",
                   "ż": "pl", "ğ": "tr", "ş": "tr", "ı": "tr"}

#: Keyboard rows (QWERTY, QWERTZ, AZERTY): a word that is a run along one ("asdf", "qwerty", "poiuy")
#: is mashing, not a language, though lingua's n-grams find a favourite for it anyway.
_KEY_ROWS = ("qwertyuiop", "qwertzuiop", "azertyuiop", "asdfghjkl", "qsdfghjklm", "zxcvbnm", "yxcvbnm", "wxcvbn")
#: the only real words of the configured languages that are keyboard runs of four or more letters
_REAL_RUNS = frozenset({"wert"})
_VOWELS = frozenset("aeiouyáàâäãåéèêëíìîïóòôöõúùûüýÿąęıœæø")


def _is_keyboard_run(word: str) -> bool:
    return len(word) >= 4 and word not in _REAL_RUNS and any(word in row or word in row[::-1] for row in _KEY_ROWS)


def looks_mashed(word: str) -> bool:
    """A Latin-script word that belongs to no language: a keyboard run ("asdf", "zxcv") or three or
    more letters without a vowel ("xkcd", "lkjhg", "zzz", "hmm"). Chat abbreviations a language owns
    ("thx", "pls") are in `CHAT_WORDS` and are checked before this."""
    w = word.casefold()
    if not w.isascii() and not all(ch.isascii() or ch in _VOWELS for ch in w):
        return False  # "ćwierć", "şşş": letters this rule does not know, left to lingua
    return _is_keyboard_run(w) or (len(w) >= 3 and not any(ch in _VOWELS for ch in w))


#: how much one chat word weighs against lingua's log-probability, and the prior's weight (log odds)
LEXICON_WEIGHT = 2.5
#: a word of the brand's texts (nlu/language_corpus.py) that one to three configured languages use:
#: as much as a chat word, shared among them. Chosen on benchmarks/data/short_messages.yml with the
#: lexicon held out and a dev set of first messages (BENCHMARKS.md section 14): 1.5-3.0 all help,
#: 2.5 and 3.0 did best on both (by one or two messages)
CORPUS_WEIGHT = 2.5
#: names every language's texts use ("voltora", "buds", "paypal") are left out of the message like
#: `ignore` when this long: two-letter ones ("de", "e") are function words of some languages
NEUTRAL_MIN_LETTERS = 3
#: one letter of `ALPHABETS` (per distinct letter in the message)
ACCENT_WEIGHT = 1.0
PRIOR_WEIGHT = 2.0
#: a lone word several configured languages share ("hallo") weighs this for each of them: less than
#: the prior, so in a conversation it keeps the conversation's language ("super" in Polish stays Polish)
SHARED_WEIGHT = 1.0
#: Latin-script languages a fan may write in that a brand often does not configure. A cheap second
#: lingua model (low-accuracy mode) over these plus the configured ones recognises them, so Swedish
#: "Hej, var är min beställning?" is "und" (the conversation keeps its language), not German at 0.94.
OUTSIDERS: tuple[str, ...] = ("sv", "da", "nb", "nn", "fi", "et", "cs", "sk", "hu", "ro", "ca", "id", "ms", "vi",
                              "tl", "hr", "sl", "sq", "lv", "lt", "af", "so", "sw", "yo", "cy", "ga", "eu", "az", "is")
#: an outsider left out when its near twin is configured: the low-accuracy outsider model reads plain
#: Dutch as Afrikaans ("Voor je terugbetaling gebruik ik bestelling ...": af 0.96, nl 0.04), which made a
#: Dutch fan's message "und"; an Afrikaans one read as Dutch is answered in a language its reader follows.
#: Likewise short Turkish as Azerbaijani ("buds pro bozuldu", "hoşça kal": az 1.0), which made a Turkish
#: fan's first message "und" and so English
OUTSIDER_TWINS = {"af": "nl", "az": "tr"}
#: the outsider model must give an unconfigured language at least this to overrule the restricted one
OUTSIDER_MIN = 0.95
#: lingua's low-accuracy mode is sure of itself on short text far more often than it is right
#: ("hola" -> Turkish 0.62): its log-probabilities count this much
#: Hindi written in Latin letters (Hinglish: "mera order kahan hai", "mujhe refund chahiye"): words of
#: it that none of the configured Latin-script languages writes. lingua has no romanised Hindi, so
#: without these the message read as English and the fan was answered in English. Left out on purpose
#: because another configured language uses them: "hai" counts but never alone (Italian "hai"), and
#: "mein" (German), "mila", "ho" (Italian), "hafta", "kar", "kal" (Turkish), "acha" (Portuguese), "se",
#: "ka", "ki", "ko", "to", "do", "pe", "par" are not listed.
ROMAN_HINDI = frozenset("""
hai hain kya kyun kyon kaise kaisa kahan kahaan kitna kitni kitne kaun mera meri mere mujhe mujhko humein
aap aapka aapki aapke aapko tum tumhara tumhari chahiye chahta chahti chahte nahi nahin nhi bhai yaar hoon
bahut bohot kuch koi karo karwao karwaiye karna karke karunga baat kisi gaya gayi gaye raha rahi rahe tha
thi abhi jaldi paisa paise wapas wapis dhanyavad dhanyawad shukriya madad mili chalo namaste theek thik
accha achha bilkul insaan bhejo batao bataiye dijiye kijiye hua hui hafte mahina lekin aur bhi toh wala
wali wale phir yeh woh iska uska isme usme rehne chhodo bakwaas bakwas bekaar naraz naraaz ghadi
""".split())
#: the Hinglish words a message needs to read as Hindi (one in a message of up to 3 words, "chalo bye",
#: in a conversation already in Hindi)
ROMAN_HINDI_MIN = 2
LOW_ACCURACY_WEIGHT = 0.5
#: a lone word no chat-word list knows needs lingua's probability at least this
SINGLE_WORD_MIN = 0.8
#: lingua's probabilities are floored here: on one or two words its n-grams are often all unseen
#: and one language gets ~1.0 by accident ("hola" -> Turkish), which one chat word must outweigh
LINGUA_FLOOR = 0.01
#: the winner must lead the runner-up by this much (log odds), else the answer is "und" and the
#: caller keeps the conversation's language. Lingua's own probabilities are flat on short text
#: ("hallo leute, bin neu hier": German 0.34), so a margin decides, not an absolute level.
MIN_MARGIN = 0.1


def _script(ch: str) -> str | None:
    o = ord(ch)
    if 0x0400 <= o <= 0x04FF:
        return "ru"
    if 0x0600 <= o <= 0x06FF or 0x0750 <= o <= 0x077F:
        return "ar"
    if 0x0900 <= o <= 0x097F:
        return "hi"
    if 0x0590 <= o <= 0x05FF:
        return "he"
    if 0x0370 <= o <= 0x03FF:
        return "el"
    if 0x0E00 <= o <= 0x0E7F:
        return "th"
    if 0x3040 <= o <= 0x30FF:
        return "ja"
    if 0xAC00 <= o <= 0xD7AF:
        return "ko"
    if 0x4E00 <= o <= 0x9FFF:
        return "zh"
    return None


def _scripts(text: str) -> tuple[dict[str, int], int]:
    """Letters per non-Latin script, and all letters, in the first 500 characters."""
    scripts: dict[str, int] = {}
    letters = 0
    for ch in text[:500]:
        if ch.isalpha():
            letters += 1
            s = _script(ch)
            if s:
                scripts[s] = scripts.get(s, 0) + 1
    return scripts, letters


def route_language(text: str) -> tuple[str, float]:
    """The fast router's guess: (ISO 639-1 code or "und", confidence in [0, 1]); no model."""
    scripts, letters = _scripts(text)
    if letters == 0:
        return "und", 0.0
    if scripts:
        best = max(scripts, key=lambda k: scripts[k])
        if scripts[best] / letters > 0.3:
            if best == "ja" and scripts.get("zh"):
                return "ja", 0.9
            return best, min(1.0, scripts[best] / letters + 0.2)
    words = [w.casefold() for w in _WORD.findall(text[:500])]
    score = {lang: 0.0 for lang in STOPWORDS}
    for w in words:
        for lang, sw in STOPWORDS.items():
            if w in sw:
                score[lang] += 1.0
    lowered = text.casefold()
    for ch, lang in _DIACRITIC_HINT.items():
        if ch in lowered:
            score[lang] += 1.5
    if any(unicodedata.category(c) == "Mn" for c in unicodedata.normalize("NFD", text[:200])) and score["en"]:
        score["en"] -= 0.5
    best = max(score, key=lambda k: score[k])
    total = sum(v for v in score.values() if v > 0)
    if score[best] <= 0:
        ascii_only = all(ord(c) < 128 for c in text)
        return ("en", 0.4) if ascii_only else ("und", 0.0)
    return best, score[best] / total if total else 0.0


def _lingua_language(code: str) -> object:
    from lingua import IsoCode639_1, Language

    try:
        return Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
    except (AttributeError, ValueError):
        raise ValueError(f"language {code!r} is not an ISO 639-1 code lingua knows") from None


class LanguageIdentifier:
    """Script + chat-word lexicon + lingua n-grams, restricted to `languages`. Build it once per
    process (`identifier_for` caches it): loading lingua's models is the expensive part."""

    def __init__(self, languages: Iterable[str], *, high_accuracy: bool = False,
                 lexicon: dict[str, set[str]] | None = None, ignore: Iterable[str] = (),
                 outsiders: Iterable[str] = OUTSIDERS,
                 corpus: Mapping[str, tuple[str, ...]] | None = None) -> None:
        """`lexicon`: chat words per language (default `CHAT_WORDS`); `ignore`: words that say nothing
        about the language (the brand's and its products' names: "voltora", "buds"); `outsiders`:
        unconfigured languages to recognise as such (empty: no outsider model, about 50 MB less);
        `corpus`: word -> the languages whose translated texts use it (default: the shipped table of
        `nlu.language_corpus`, whose words every language uses join `ignore`; {}: none)."""
        codes = tuple(dict.fromkeys(c.strip().lower() for c in languages if c and c.strip()))
        if not codes:
            raise ValueError("no languages to identify: configure at least one (brand.languages)")
        self.languages = codes
        self.high_accuracy = high_accuracy
        self._roman_hindi = "hi" in codes  # Hindi in Latin letters is read by its words (ROMAN_HINDI)
        self._lingua_weight = 1.0 if high_accuracy else LOW_ACCURACY_WEIGHT
        self._latin = tuple(c for c in codes if c not in ("ru", "ar", "hi", "he", "el", "th", "ja", "ko", "zh"))
        # a chat word counts only when exactly one configured language has it ("por" is Spanish and
        # Portuguese: no evidence between the two, but evidence when only one of them is configured)
        owners: dict[str, list[str]] = {}
        for code in self._latin:
            for w in (lexicon if lexicon is not None else CHAT_WORDS).get(code, ()):
                owners.setdefault(w, []).append(code)
        self._lexicon = {w: langs[0] for w, langs in owners.items() if len(langs) == 1}
        #: words several configured languages have ("hallo": de, nl): alone, a tie among exactly those
        self._shared = {w: tuple(langs) for w, langs in owners.items() if len(langs) > 1}
        self._ignore = frozenset(w.casefold() for w in ignore)
        if corpus is None:
            corpus = corpus_words()
        # a corpus word is evidence among the configured languages that use it, when some do not
        self._corpus: dict[str, tuple[str, ...]] = {}
        neutral: set[str] = set()
        for word, users in corpus.items():
            if users == (EVERYWHERE,):
                if len(word) >= NEUTRAL_MIN_LETTERS and word not in self._lexicon and word not in self._shared:
                    neutral.add(word)
                continue
            mine = tuple(c for c in users if c in self._latin)
            if mine and len(mine) < len(self._latin):
                self._corpus[word] = mine
        self._ignore |= neutral
        self._detector: LanguageDetector | None = None
        if len(self._latin) > 1:
            from lingua import LanguageDetectorBuilder

            builder = LanguageDetectorBuilder.from_languages(*[_lingua_language(c) for c in self._latin])  # type: ignore[arg-type]
            if not high_accuracy:
                builder = builder.with_low_accuracy_mode()
            self._detector = builder.with_preloaded_language_models().build()
        others = [c for c in dict.fromkeys(outsiders) if c not in codes and OUTSIDER_TWINS.get(c) not in codes]
        self._outsider: LanguageDetector | None = None
        if others and len(self._latin) > 1:  # one language: nothing to tell apart, the answer is it
            from lingua import LanguageDetectorBuilder

            every = [_lingua_language(c) for c in (*self._latin, *others)]
            self._outsider = (LanguageDetectorBuilder.from_languages(*every)  # type: ignore[arg-type]
                              .with_low_accuracy_mode().with_preloaded_language_models().build())

    def _logits(self, text: str, prior: str | None) -> dict[str, float]:
        """Log-odds per configured language: lingua (floored) + chat words + accents + prior."""
        # tokens with digits ("VT-482913", "2x", "12pm") are order numbers and codes, not words
        text = " ".join(t for t in text[:500].split() if not any(ch.isdigit() for ch in t))
        scripts, letters = _scripts(text)
        if letters == 0:
            return {}
        if scripts:
            best = max(scripts, key=lambda k: scripts[k])
            if scripts[best] / letters > 0.3:  # "buds pro टूट गए": the script decides, not the product name
                return {best: 0.0} if best in self.languages else {}
        if not self._latin:
            return {}
        logit = {c: 0.0 for c in self._latin}
        words = [w for w in _WORD.findall(text[:500]) if w.casefold() not in self._ignore]
        # mashed words ("asdf qwerty zxcv") say nothing; when only they are left the text is "und"
        words = [w for w in words if w.casefold() in self._lexicon or not looks_mashed(w)]
        if not words:
            return {}
        if self._roman_hindi:
            roman = {w.casefold() for w in words} & ROMAN_HINDI
            if len(roman) >= ROMAN_HINDI_MIN or (roman and prior == "hi" and len(words) <= 3):
                return {"hi": 0.0}
        top_p = 0.0  # lingua's own probability for its favourite
        if self._detector is not None:
            for cv in self._detector.compute_language_confidence_values(" ".join(words)):
                code = cv.language.iso_code_639_1.name.lower()
                top_p = max(top_p, cv.value)
                if code in logit:
                    logit[code] = self._lingua_weight * math.log(max(cv.value, LINGUA_FLOOR))
        hits = 0
        for w in words:
            key = w.casefold()
            owner = self._lexicon.get(key)
            if owner is not None:
                logit[owner] += LEXICON_WEIGHT
                hits += 1
            elif key not in self._shared and len(words) > 1:  # a lone word: see below
                # a chat word the lexicon lists under several languages ("funciona": es, pt; "hallo":
                # de, nl) is theirs, whatever the brand's texts happen to use
                users = self._corpus.get(key, ())
                for code in users:
                    logit[code] += CORPUS_WEIGHT / len(users)
        if (2 * hits < len(words) and self._outsider is not None and not self._all_known(words)
                and self._is_outsider(" ".join(words))):
            return {}
        if len(words) == 1 and not hits and top_p < SINGLE_WORD_MIN:
            # one word no single configured language's chat words have: lingua's guess only counts
            # when it is clear, else a tie among the languages whose chat words have it ("hallo":
            # German and Dutch, not English by accident), else among those whose texts use it
            # ("ótimo": Portuguese alone; "okay": English alone), else among all for an unknown word ("Hej!" where Polish is not configured): "und", or
            # the prior when there is one. Each weighs `SHARED_WEIGHT`, less than the prior, so in a
            # conversation a lone word keeps its language: a small corpus's "only English uses it"
            # is no proof for a loanword
            key = words[0].casefold()
            tied = self._shared.get(key) or self._corpus.get(key, ())
            logit = {c: SHARED_WEIGHT if c in tied else 0.0 for c in logit}
        for ch in {ch for ch in text.casefold() if not ch.isascii()}:
            writers = [c for c in logit if c not in ALPHABETS or ch in ALPHABETS[c]]
            if len(writers) < len(logit) and any(ch in ALPHABETS.get(c, "") for c in writers):
                for code in writers:
                    logit[code] += ACCENT_WEIGHT
        if prior in logit:
            logit[prior] += PRIOR_WEIGHT
        return logit

    def _all_known(self, words: list[str]) -> bool:
        """Whether two or more words are all chat words or brand-text words of one same configured
        language ("hoşça kal": both in the brand's Turkish texts). The outsider model is then not asked:
        on two words it is often sure of nonsense ("hoşça kal": Basque 0.998)."""
        if len(words) < 2:
            return False
        common: set[str] | None = None
        for w in words:
            key = w.casefold()
            owner = self._lexicon.get(key)
            users = {owner} if owner is not None else set(self._shared.get(key, ())) | set(self._corpus.get(key, ()))
            common = users if common is None else common & users
            if not common:
                return False
        return True

    def _is_outsider(self, text: str) -> bool:
        """Whether the outsider model reads `text` as a language the brand did not configure."""
        assert self._outsider is not None
        values = self._outsider.compute_language_confidence_values(text)
        if not values:
            return False
        top = values[0]
        return top.value >= OUTSIDER_MIN and top.language.iso_code_639_1.name.lower() not in self.languages

    def scores(self, text: str, prior: str | None = None) -> dict[str, float]:
        """Posterior per configured language (sums to 1); {} when the text has no letters, is
        written in a script none of the configured languages uses, or in an outsider language."""
        logit = self._logits(text, prior)
        top = max(logit.values(), default=0.0)
        exp = {c: math.exp(v - top) for c, v in logit.items()}
        total = sum(exp.values())
        return {c: v / total for c, v in exp.items()}

    def tied(self, text: str, prior: str | None = None) -> tuple[str, ...]:
        """The languages sharing the lead (within `MIN_MARGIN`) when `detect` says "und" because of
        a tie among some of them ("hallo": ("de", "nl")), in the configured order; () when one
        leads, when every language ties ("ok") or when the text carries no language."""
        logit = self._logits(text, prior)
        if len(logit) < 2:
            return ()
        top = max(logit.values())
        tied = tuple(c for c in self.languages if c in logit and top - logit[c] < MIN_MARGIN)
        return tied if 1 < len(tied) < len(logit) else ()

    def detect(self, text: str, prior: str | None = None) -> tuple[str, float]:
        """(code, posterior), or ("und", posterior of the leader) when no language leads by
        `MIN_MARGIN`, and ("und", 0.0) for text without letters."""
        logit = self._logits(text, prior)
        if not logit:
            return "und", 0.0
        ranked = sorted(logit.values(), reverse=True)
        best = max(logit, key=lambda c: logit[c])
        top = ranked[0]
        conf = round(1.0 / sum(math.exp(v - top) for v in ranked), 4)
        if len(ranked) > 1 and ranked[0] - ranked[1] < MIN_MARGIN:
            return "und", conf
        return best, conf


_BUILD_LOCK = threading.Lock()


@functools.lru_cache(maxsize=4)
def _cached_identifier(languages: tuple[str, ...], high_accuracy: bool, table: str | None) -> LanguageIdentifier:
    return LanguageIdentifier(languages, high_accuracy=high_accuracy,
                              corpus=load_corpus(Path(table)) if table is not None else None)


def identifier_for(languages: tuple[str, ...], high_accuracy: bool = False,
                   table: str | None = None) -> LanguageIdentifier:
    """One identifier per language set (and brand word table) per process: lingua's models load once
    (a lock keeps a warm-up thread and the first message from loading them twice). `table`: the
    trained model's `language_corpus.yml` (`fancare train` builds it from the brand's own texts);
    None: the table shipped with fancare."""
    with _BUILD_LOCK:
        return _cached_identifier(languages, high_accuracy, table)


#: what `detect_language` uses when given no languages: set at start (and on a new model) by `configure`
_configured: tuple[tuple[str, ...], bool, str | None] = (DEFAULT_LANGUAGES, False, None)


def configure(languages: Iterable[str], *, high_accuracy: bool = False, warm: bool = True,
              table: str | Path | None = None) -> threading.Thread | None:
    """Make `languages` (the brand's), the lingua mode and the brand's word table (`table`, see
    `identifier_for`) this process's default, and with `warm` build the identifier in a background
    thread (seconds at start, not on a fan's message). Other callers of `detect_language` (moderation
    signals) then share that one identifier. A new table (a new model) drops the identifiers built for
    the old one."""
    global _configured
    codes = tuple(languages)
    path = str(table) if table is not None else None
    if path != _configured[2]:
        with _BUILD_LOCK:
            _cached_identifier.cache_clear()
    _configured = (codes, high_accuracy, path)
    if not warm:
        return None
    t = threading.Thread(target=identifier_for, args=(codes, high_accuracy, path), name="load-language-id", daemon=True)
    t.start()
    return t


def tied_languages(text: str, languages: Iterable[str] | None = None, prior: str | None = None) -> tuple[str, ...]:
    """The configured languages `text` ties between ("hallo" -> ("de", "nl")); () unless a tie among
    some, not all, of them is why `detect_language` says "und" (see `LanguageIdentifier.tied`)."""
    default, high_accuracy, table = _configured
    langs = tuple(languages) if languages is not None else default
    return identifier_for(langs, high_accuracy, table).tied(text, prior)


def is_greeting(text: str) -> bool:
    """Whether `text` is one greeting word alone ("Hallo!", "hola", "ciao :)")."""
    words = _WORD.findall(text[:100])
    return len(words) == 1 and words[0].casefold() in GREETINGS


def detect_language(text: str, languages: Iterable[str] | None = None,
                    prior: str | None = None) -> tuple[str, float]:
    """Return (ISO 639-1 code or "und", confidence in [0, 1]) among `languages` (default: those
    given to `configure`, else the demo's twelve). `prior`: the conversation's language so far, which wins when the text does not say
    otherwise. Text in a language outside `languages` comes out as "und" when the evidence is weak,
    never as a confident wrong language: Swedish "Hej!" is not German."""
    default, high_accuracy, table = _configured
    langs = tuple(languages) if languages is not None else default
    return identifier_for(langs, high_accuracy, table).detect(text, prior)
