"""Fast language identification for routing (script + stop-word evidence, no model).

Accurate enough to route a message to the English or the multilingual encoder and to label the
fan's language; it errs towards "not English" when unsure, which costs only a slower encoder.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

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
_DIACRITIC_HINT = {"ñ": "es", "¿": "es", "¡": "es", "ç": "fr", "è": "fr", "ê": "fr", "ß": "de", "ä": "de",
                   "ö": "de", "ü": "de", "ã": "pt", "õ": "pt", "ł": "pl", "ą": "pl", "ę": "pl", "ś": "pl",
                   "ż": "pl", "ğ": "tr", "ş": "tr", "ı": "tr"}


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


def detect_language(text: str) -> tuple[str, float]:
    """Return (ISO 639-1 code or "und", confidence in [0, 1])."""
    scripts: dict[str, int] = {}
    letters = 0
    for ch in text[:500]:
        if ch.isalpha():
            letters += 1
            s = _script(ch)
            if s:
                scripts[s] = scripts.get(s, 0) + 1
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
