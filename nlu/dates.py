"""Dates fans write, resolved to an ISO date relative to the message time, in en/es/de/fr/pt/it.

A compact rule set rather than `dateparser`: measured in BENCHMARKS.md section 17, these rules cost
tens of microseconds a message where `dateparser.search.search_dates` costs milliseconds (and a
second of import), and support messages use a small, predictable set of date phrases: "yesterday",
"2 weeks ago", "last Tuesday", "on the 3rd", "3 de marzo", "letzte Woche", "hier" (fr).

Conventions (the test set `benchmarks/data/entities.yml` is annotated by them):
- a span holds the date words and their modifiers, not articles or prepositions: "on [the 3rd]" is
  "[3rd]"... except where the modifier *is* the phrase ("[2 weeks ago]", "[hace 2 semanas]",
  "[il y a 3 jours]", "[vor 2 Wochen]");
- a period resolves to its first day ("last week" -> Monday of last week, "last month" -> the 1st);
- a weekday or a date without a year is the most recent one before the message ("tuesday", "the
  3rd", "March 3"), unless a future cue comes first ("next tuesday", "by friday", "bis Freitag");
- ambiguous words are read in one language only: "hier" is French "yesterday" (German "here"), so
  it counts only when the message's language is French.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class DateMention:
    start: int
    end: int
    text: str
    value: str  # ISO date


_WEEKDAYS: dict[str, int] = {}
for _i, _names in enumerate([
    "monday mon lunes montag lundi lunedì lunedi segunda-feira",
    "tuesday tue tues martes dienstag mardi martedì martedi terça-feira terca-feira terça terca",
    "wednesday wed miércoles miercoles mittwoch mercredi mercoledì mercoledi quarta-feira",
    "thursday thu thurs jueves donnerstag jeudi giovedì giovedi quinta-feira",
    "friday fri viernes freitag vendredi venerdì venerdi sexta-feira",
    "saturday sat sábado sabado samstag sonnabend samedi",
    "sunday sun domingo sonntag dimanche domenica",
]):
    for _n in _names.split():
        _WEEKDAYS[_n] = _i
# Portuguese "segunda/quarta/quinta/sexta" alone also mean second/fourth/fifth/sixth: only with -feira.
# Short English forms ("sat", "sun", "wed") are ordinary words: only with a modifier (see _weekday_ok).
_SHORT = {"mon", "tue", "tues", "wed", "thu", "thurs", "fri", "sat", "sun"}

_MONTHS: dict[str, int] = {}
for _i, _names in enumerate([
    "january jan enero januar janvier janeiro gennaio ene janv",
    "february feb febrero februar février fevrier fevereiro febbraio fév fev",
    "march mar marzo märz maerz mars março marco",
    "april apr abril avril aprile avr",
    "may mayo mai maio maggio",
    "june jun junio juni juin junho giugno",
    "july jul julio juli juillet julho luglio juil",
    "august aug agosto august août aout",
    "september sep sept septiembre setiembre septembre setembro settembre set",
    "october oct octubre oktober okt octobre outubro ottobre ott out",
    "november nov noviembre novembre novembro",
    "december dec diciembre dezember dez décembre decembre dezembro dicembre dic",
], start=1):
    for _n in _names.split():
        _MONTHS[_n] = _i
_MONTHS.pop("mar", None)   # "mar" is Spanish/Italian/Portuguese "sea"
_MONTHS.pop("set", None)   # English "set"
_MONTHS.pop("out", None)   # English "out"
_MONTHS.pop("may", None)   # English modal verb; "May 3" is still read by the day+month patterns below
_MAY = {"may"}

_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "a": 1, "an": 1, "a couple of": 2, "couple of": 2, "a few": 3,
    "un": 1, "una": 1, "uno": 1, "unos": 2, "unas": 2, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6,
    "ein": 1, "eine": 1, "einem": 1, "einer": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6,
    "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5,
    "um": 1, "uma": 1, "dois": 2, "duas": 2, "três": 3, "quatro": 4,
    "due": 2, "tre": 3, "quattro": 4, "cinque": 5, "sei": 6,
}
_NUM = r"(?P<n>\d{1,3}|" + "|".join(sorted((re.escape(k.strip()) for k in _NUMBERS), key=len, reverse=True)) + ")"

# unit words -> (days, months)
_UNITS = {
    **dict.fromkeys("day days día dia días dias tag tage tagen jour jours giorno giorni".split(), (1, 0)),
    **dict.fromkeys("week weeks semana semanas woche wochen semaine semaines settimana settimane".split(), (7, 0)),
    **dict.fromkeys("month months mes meses monat monate monaten mois mês mese mesi".split(), (0, 1)),
    **dict.fromkeys("year years año años ano anos jahr jahre jahren an ans année années anno anni".split(), (0, 12)),
}
_UNIT = r"(?P<unit>" + "|".join(sorted(map(re.escape, _UNITS), key=len, reverse=True)) + ")"

_B, _E = r"(?<!\w)", r"(?!\w)"


def _rx(body: str) -> re.Pattern[str]:
    return re.compile(_B + body + _E, re.IGNORECASE)


# "2 weeks ago", "hace 2 semanas", "vor 2 Wochen", "il y a 2 semaines", "há 2 semanas", "2 semanas atrás",
# "2 settimane fa"
_AGO = [
    _rx(_NUM + r"\s+" + _UNIT + r"\s+(?:ago|atrás|atras|fa)"),
    _rx(r"(?:hace|vor|il\s+y\s+a|há|ha\s+(?=\d))\s*" + _NUM + r"\s+" + _UNIT),
]

_DAY_WORDS = {
    "today": 0, "yesterday": -1, "tomorrow": 1, "the day before yesterday": -2, "day before yesterday": -2,
    "hoy": 0, "ayer": -1, "anteayer": -2, "antier": -2, "antes de ayer": -2, "antes de ontem": -2,
    "pasado mañana": 2, "heute": 0, "gestern": -1, "vorgestern": -2, "übermorgen": 2,
    "aujourd'hui": 0, "aujourd’hui": 0, "avant-hier": -2, "avant hier": -2, "demain": 1, "après-demain": 2,
    "hoje": 0, "ontem": -1, "anteontem": -2, "amanhã": 1, "amanha": 1, "depois de amanhã": 2,
    "oggi": 0, "ieri": -1, "l'altro ieri": -2, "l'altroieri": -2, "altroieri": -2, "domani": 1, "dopodomani": 2,
}
_DAY_WORD = _rx("(?P<w>" + "|".join(sorted(map(re.escape, _DAY_WORDS), key=len, reverse=True)) + ")")
# "mañana" and "morgen" also mean "morning": not after an article or a greeting.
_MANANA = _rx(r"(?<!la\s)(?<!esta\s)(?<!una\s)(?<!buenos\s)(?<!guten\s)(?<!am\s)(?<!heute\s)(?<!gestern\s)"
              r"(?P<w>mañana|morgen)")
_HIER = _rx(r"(?P<w>hier)")  # French only

# "last week", "la semana pasada", "letzte Woche", "la semaine dernière", "semana passada", "la settimana scorsa"
_PERIOD_WORD = r"(?P<p>week|month|year|semana|mes|año|woche|monat|jahr|semaine|mois|année|an|mês|ano|settimana|mese|anno)"
_PAST_MOD = r"(?:last|past|previous|pasad[oa]|últim[oa]|ultim[oa]|letzte[nrs]?|vergangene[nrs]?|vorige[nrs]?|" \
            r"derni(?:er|ère|ere)|passad[oa]|scors[oa])"
_NEXT_MOD = r"(?:next|coming|próxim[oa]|proxim[oa]|que\s+viene|nächste[nrs]?|naechste[nrs]?|kommende[nrs]?|" \
            r"prochaine?|prossim[oa])"
_THIS_MOD = r"(?:this|est[ea]|diese[nrs]?|cette|ce|dest[ea]|quest[oa])"
_PERIOD = [
    _rx(r"(?P<m>" + _PAST_MOD + "|" + _NEXT_MOD + "|" + _THIS_MOD + r")\s+" + _PERIOD_WORD),
    _rx(_PERIOD_WORD + r"\s+(?P<m>" + _PAST_MOD + "|" + _NEXT_MOD + ")"),
]

_WD = r"(?P<wd>" + "|".join(sorted(map(re.escape, _WEEKDAYS), key=len, reverse=True)) + ")"
_WEEKDAY = [
    _rx(r"(?P<m>" + _PAST_MOD + "|" + _NEXT_MOD + "|" + _THIS_MOD + r")\s+" + _WD),
    _rx(_WD + r"\s+(?P<m>" + _PAST_MOD + "|" + _NEXT_MOD + ")"),
    _rx(_WD),
]
_FUTURE_CUE = re.compile(r"(?:by|until|till|before|hasta(?:\s+el)?|para\s+el|bis(?:\s+zum)?|avant|d'ici|entro|"
                         r"até|ate|antes\s+d[eo]l?|on\s+or\s+before)\s*$", re.IGNORECASE)

_MON = r"(?P<mon>" + "|".join(sorted(map(re.escape, [*_MONTHS, *_MAY]), key=len, reverse=True)) + r")\.?"
_ORD = r"(?:st|nd|rd|th|er|º|°|\.)?"
_YEAR = r"(?:,?\s+(?:de\s+|del\s+)?(?P<y>\d{4}))?"
_DAY_MONTH = [
    _rx(r"(?P<d>\d{1,2})" + _ORD + r"\s+(?:of\s+|de\s+)?" + _MON + _YEAR),
    _rx(_MON + r"\s+(?:the\s+)?(?P<d>\d{1,2})" + _ORD + _YEAR),
]
_ISO = _rx(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})")
_NUMERIC = [
    _rx(r"(?P<a>\d{1,2})(?P<sep>[./-])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})"),
    _rx(r"(?P<a>\d{1,2})/(?P<b>\d{2})"),  # "14/03", not "24/7" or "1/2"
]
# "the 3rd", "el día 3", "am 3.", "le 3" need their cue: a bare number is not a date
_DAY_OF_MONTH = [
    _rx(r"(?P<d>\d{1,2})(?:st|nd|rd|th)"),
    _rx(r"(?:día|dia)\s+(?P<d>\d{1,2})"),
]

_CUE = re.compile(r"\d|ago|yesterday|today|tomorrow|last|next|past|week|month|day|hace|ayer|hoy|ma[ñn]ana|semana|"
                  r"pasad|vor|gestern|heute|morgen|letzt|woche|monat|hier|demain|derni|il\s+y\s+a|aujourd|"
                  r"há|ontem|hoje|passad|atr[áa]s|fa\b|ieri|oggi|domani|scors|settiman|"
                  + "|".join(sorted(set(map(re.escape, [*_WEEKDAYS, *_MONTHS])), key=len, reverse=True)),
                  re.IGNORECASE)


def _shift_months(d: date, months: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 - months, 12)
    return date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def _period_start(today: date, period: str, direction: int) -> date:
    p = period.casefold()
    if p in ("week", "semana", "woche", "semaine", "settimana"):
        monday = today - timedelta(days=today.weekday())
        return monday + timedelta(days=7 * direction)
    if p in ("month", "mes", "monat", "mois", "mês", "mese"):
        return _shift_months(today.replace(day=1), -direction)
    return date(today.year + direction, 1, 1)


def _direction(mod: str) -> int:
    if re.fullmatch(_PAST_MOD, mod, re.IGNORECASE):
        return -1
    if re.fullmatch(_NEXT_MOD, mod, re.IGNORECASE):
        return 1
    return 0


def _weekday_date(today: date, wd: int, direction: int) -> date:
    """direction -1: most recent before today; +1: next after today; 0: this week's."""
    if direction > 0:
        return today + timedelta(days=(wd - today.weekday() - 1) % 7 + 1)
    if direction == 0:
        return today - timedelta(days=today.weekday()) + timedelta(days=wd)
    return today - timedelta(days=(today.weekday() - wd - 1) % 7 + 1)


def _past_date(today: date, month: int, day: int, year: int | None) -> date | None:
    """A day/month (and year) as a date; without a year, the most recent one up to today."""
    try:
        if year is not None:
            return date(year + (2000 if year < 100 else 0), month, day)
        d = date(today.year, month, day)
        return d if d <= today else date(today.year - 1, month, day)
    except ValueError:
        return None


def find_dates(text: str, today: date, language: str | None = None) -> list[DateMention]:
    """Every date phrase in `text` as (span, ISO date), overlapping candidates included (the
    extractor keeps the longest). Texts without a date cue return at once."""
    if not _CUE.search(text):
        return []
    out: list[DateMention] = []

    def add(m: re.Match[str], d: date | None) -> None:
        if d is not None:
            out.append(DateMention(m.start(), m.end(), m.group(0), d.isoformat()))

    for rx in _AGO:
        for m in rx.finditer(text):
            n = int(m["n"]) if m["n"].isdigit() else _NUMBERS.get(m["n"].casefold(), 0)
            days, months = _UNITS[m["unit"].casefold()]
            if n and n < 400:
                add(m, _shift_months(today, n * months) - timedelta(days=n * days))
    for m in _DAY_WORD.finditer(text):
        add(m, today + timedelta(days=_DAY_WORDS[m["w"].casefold().replace("’", "'")]))
    for m in _MANANA.finditer(text):
        add(m, today + timedelta(days=1))
    if language == "fr":
        for m in _HIER.finditer(text):
            add(m, today - timedelta(days=1))
    for rx in _PERIOD:
        for m in rx.finditer(text):
            add(m, _period_start(today, m["p"], _direction(m["m"])))
    for i, rx in enumerate(_WEEKDAY):
        for m in rx.finditer(text):
            wd_text = m["wd"].casefold()
            if i == 2 and wd_text in _SHORT:
                continue
            direction = _direction(m["m"]) if i < 2 else (1 if _FUTURE_CUE.search(text[:m.start()]) else -1)
            add(m, _weekday_date(today, _WEEKDAYS[wd_text], direction))
    for rx in _DAY_MONTH:
        for m in rx.finditer(text):
            mon = m["mon"].casefold().rstrip(".")
            add(m, _past_date(today, _MONTHS.get(mon, 5), int(m["d"]), int(m["y"]) if m["y"] else None))
    for m in _ISO.finditer(text):
        add(m, _past_date(today, int(m["m"]), int(m["d"]), int(m["y"])))
    for rx in _NUMERIC:
        for m in rx.finditer(text):
            a, b = int(m["a"]), int(m["b"])
            day, month = (b, a) if b > 12 >= a else (a, b)  # day first, unless that cannot be
            year = int(m["y"]) if "y" in m.groupdict() and m["y"] else None
            add(m, _past_date(today, month, day, year))
    for rx in _DAY_OF_MONTH:
        for m in rx.finditer(text):
            day = int(m["d"])
            if 1 <= day <= 31:
                # this month if the day has come, else the most recent month that has that day
                d = today.replace(day=1) if day <= today.day else _shift_months(today.replace(day=1), 1)
                for _ in range(3):
                    if day <= calendar.monthrange(d.year, d.month)[1]:
                        add(m, d.replace(day=day))
                        break
                    d = _shift_months(d, 1)
    return out
