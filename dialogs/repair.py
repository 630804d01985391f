"""Conversation repair cues, in the demo's languages: cancel, skip, correction, switch, question, task.

These are short, closed phrases ("never mind", "forget it", "olvídalo", "vergiss es"), where a
lexicon is more reliable than a classifier trained on a handful of examples, and where a trainer
can see exactly why the assistant stopped a task. Each cue is a function of the text only.
"""

from __future__ import annotations

import re

_W = r"(?:^|(?<=[\s,.;:!?¡¿\"'(،؟]))"  # start of a word
_E = r"(?=$|[\s,.;:!?\"')،؟।])"  # end of a word (Arabic comma and question mark, Devanagari danda)

# A cancel phrase: the whole message, or at its start ("forget it, I'll just keep it").
_CANCEL_PHRASES = [
    # en
    r"never ?mind", r"nevermind", r"forget (?:it|about it|that|this)", r"cancel(?: (?:it|that|this|please))?",
    r"stop(?: (?:it|that|this|please))?", r"no,? thanks?", r"no,? thank you", r"quit", r"exit", r"/cancel",
    r"i(?:'ll| will)(?: just)? keep (?:it|them|the \w+)", r"i changed my mind", r"i've changed my mind",
    r"don'?t bother", r"not anymore", r"no need", r"leave it", r"skip it", r"abort",
    # es
    r"olv[ií]d(?:alo|ate|elo)", r"d[ée]jalo", r"cancela(?:r|lo)?", r"no,? gracias", r"ya no", r"no importa",
    r"me lo quedo", r"cambi[ée] de opini[oó]n", r"para", r"basta", r"da igual", r"no hace falta", r"mejor no",
    # de
    r"vergiss es", r"vergessen sie es", r"egal", r"abbrechen", r"stopp", r"nein,? danke", r"lass (?:es|mal|gut sein)",
    r"schon gut", r"ich behalte (?:es|ihn|sie)", r"hat sich erledigt", r"passt schon", r"doch nicht",
    r"ich will (?:es )?nicht mehr",
    # fr
    r"laisse(?:z)? tomber", r"annule(?:r|z)?", r"non,? merci", r"oublie(?:z)?(?: [çc]a)?", r"peu importe",
    r"je (?:le|la|les) garde", r"j'ai chang[ée] d'avis", r"arr[êe]te(?:z)?", r"tant pis", r"je ne veux plus",
    # it
    r"lascia(?:mo)? (?:perdere|stare)", r"annulla", r"no,? grazie", r"non importa", r"lo tengo", r"basta",
    r"ho cambiato idea", r"non fa niente", r"non serve pi[uù]", r"non voglio pi[uù]",
    # pt
    r"deixa (?:pra l[áa]|para l[áa]|quieto)", r"esque[cç][ae]", r"cancela(?:r)?", r"n[ãa]o,? obrigad[oa]",
    r"mudei de ideia", r"n[ãa]o importa", r"n[ãa]o precisa", r"desisto", r"n[ãa]o quero mais",
    # nl
    r"laat maar", r"vergeet (?:het|maar)", r"annuleer", r"nee,? dank(?:je| je| u)(?: wel)?", r"laat (?:het|maar) zitten",
    # pl / sv / tr / id / ru
    r"nieważne", r"anuluj", r"nie,? dzięki", r"zapomnij", r"glöm det", r"strunt i det", r"avbryt", r"nej tack",
    r"bo[şs]ver", r"iptal", r"vazge[çc]tim", r"hay[ıi]r,? te[şs]ekk[üu]rler", r"lupakan(?: saja)?", r"batal(?:kan)?",
    r"tidak,? terima kasih", r"не важно", r"неважно", r"забудь(?:те)?", r"отмена", r"нет,? спасибо",
    # nl, pl, tr, ru (more)
    r"hoeft niet(?: meer)?", r"ik ben van gedachten veranderd", r"stop(?:pen)?", r"niewazne", r"nie trzeba",
    r"rezygnuję", r"rezygnuje", r"zmieniłem zdanie", r"zmieniłam zdanie", r"anulu(?:j|ję|je)(?: to)?",
    r"gerek yok", r"fikrimi değiştirdim", r"iptal et", r"vazgeç", r"отмени(?:ть)?", r"не надо", r"передумал[аи]?",
    r"стоп", r"хватит",
    # ar
    r"إلغاء", r"الغاء", r"ألغ(?:ي|ِ)?(?:ه|ها)?", r"الغي(?:ه|ها)?", r"انس(?:َ)? الأمر", r"انسى الموضوع", r"لا،? شكرا(?:ً)?",
    r"خلاص", r"بلاش", r"غيرت رأيي", r"مش مهم", r"انس[ىي]",
    # hi
    r"रद्द(?: (?:करो|करें|करिए|कर दो|कर दीजिए))?", r"कैंसल(?: (?:करो|करें|कर दो))?", r"रहने दो", r"छोड़ो",
    r"भूल जाओ", r"नहीं,? धन्यवाद", r"मन बदल गया", r"ज़रूरत नहीं", r"जरूरत नहीं",
    r"rehne do", r"chhodo", r"chodo", r"bhool jao", r"cancel kar(?:o|do|dijiye)", r"kuch nahi",
]
_LEAD = (r"^\s*(?:(?:oh|ok(?:ay)?|um+|hmm+|ah|well|actually|no|nah|nope|please|pls|sorry|bueno|pues|nein|non|nee|ach|eh|"
         r"nie|hayır|hayir|нет|ну|لا|नहीं)[\s,.!،]+)*")
CANCEL = re.compile(_LEAD + r"(?:" + "|".join(_CANCEL_PHRASES) + r")" + _E, re.IGNORECASE)
CANCEL_ANYWHERE = re.compile(_W + r"(?:never ?mind|forget (?:it|about it)|i(?:'ll| will)(?: just)? keep (?:it|them)|"
                             r"i(?:'ve)? changed my mind|cancel (?:it|that|the (?:refund|request|order|return))|"
                             r"olv[ií]dalo|vergiss es|laisse tomber|lascia perdere|laat maar|me lo quedo|"
                             r"ich behalte (?:es|ihn|sie)|je le garde)" + _E, re.IGNORECASE)

_SKIP = re.compile(_LEAD + r"(?:skip(?: (?:it|this|that))?|pass|i don'?t know|dunno|no idea|no clue|not a clue|not sure|"
                   r"don'?t have (?:it|one)|ni idea|nessuna idea|n[ãa]o fa[çc]o ideia|geen idee|nie mam pojęcia|"
                   r"hiç bilmiyorum|понятия не имею|ما عندي فكرة|pata nahi|"
                   r"i (?:can'?t|cannot|couldn'?t) find (?:it|the number|my order number|the order number)|"
                   r"i (?:don'?t|do not) have (?:it|the number|an? order number|my order number|the order number)|"
                   r"lost it|"
                   # "I don't have the number" / "I can't find it" in the other languages, whole
                   r"no lo tengo|no tengo (?:el|mi) n[úu]mero(?: de pedido)?|no lo encuentro|no encuentro (?:el|mi) n[úu]mero(?: de pedido)?|"
                   r"(?:ich )?(?:habe|hab) (?:die |meine |keine )?bestellnummer(?: nicht)?(?: mehr)?|(?:ich )?finde (?:sie|die bestellnummer|sie) nicht|"
                   r"je n'ai pas (?:le|mon) num[ée]ro(?: de commande)?|je ne le trouve pas|je ne trouve pas (?:le|mon) num[ée]ro|"
                   r"non ho (?:il|un) numero(?: d'ordine)?|non lo trovo|non trovo il numero|"
                   r"n[ãa]o tenho (?:o )?n[úu]mero(?: do pedido)?|n[ãa]o o encontro|n[ãa]o encontro o n[úu]mero|"
                   r"ik heb (?:het |geen |mijn )?(?:bestel)?nummer(?: niet)?|ik kan het niet vinden|"
                   r"nie mam (?:numeru(?: zamówienia)?|go)|nie mogę go znaleźć|nie mogę znaleźć numeru|"
                   r"(?:sipariş )?numaram yok|bulamıyorum|"
                   r"у меня нет номера(?: заказа)?|не могу его найти|не могу найти номер|"
                   r"(?:ما عندي|ليس لدي|معنديش) (?:رقم(?: الطلب)?|الرقم)|لا أجده|"
                   r"(?:मेरे पास )?(?:ऑर्डर )?नंबर नहीं है|(?:order )?number nahi hai|"
                   r"n/?a|none|no lo s[ée]|no s[ée]|omitir|saltar|wei[ßs] (?:ich )?nicht|keine ahnung|überspringen|"
                   r"je ne sais pas|aucune id[ée]e|passer|non lo so|salta|n[ãa]o sei|pular|weet ik niet|overslaan|"
                   r"weet niet|nie wiem|pomiń|pomin|nie mam go|bilmiyorum|atla|не знаю|пропусти(?:ть)?|нет номера|"
                   r"لا أعرف|لا اعرف|مش عارف|تخطى|تخطي|पता नहीं|मालूम नहीं|स्किप)" + _E,
                   re.IGNORECASE)

# "sorry, it's VT-100200", "I meant ...", "correction: ...", "no wait, ..."
_CORRECTION = re.compile(
    r"^\s*(?:(?:oh|oops|ah)[\s,!.]+)?(?:sorry|oops|wait|no wait|correction|i meant|i mean|my bad|actually|typo|"
    r"it'?s actually|perd[oó]n|perdona|quise decir|me equivoqu[ée]|entschuldigung|sorry,? ich meinte|ich meinte|"
    r"korrektur|pardon|d[ée]sol[ée]|je voulais dire|scusa|intendevo|desculpa|quis dizer|sorry,? ik bedoel|"
    r"ik bedoelde|przepraszam|pomyłka|chodziło mi o|miałem na myśli|yanlış yazdım|demek istedim|извините|"
    r"простите|я имел в виду|ошибся|ошиблась|آسف|عفوا|أقصد|اقصد|सॉरी|माफ़ कीजिए|माफ कीजिए|मेरा मतलब)" + _E, re.IGNORECASE)

# Words that take the current task back ("actually, ... instead"): a switch ends the old task.
_SWITCH = re.compile(_W + r"(?:instead|rather|changed my mind|never ?mind|forget (?:it|the)|actually no|no,? actually|"
                     r"en (?:vez|lugar) de eso|mejor|olvida (?:eso|el|la|lo)|olv[ií]d(?:a|e)l[oa]|d[ée]jalo|stattdessen|lieber|vergiss (?:es|das|die|den)|"
                     r"(?:ach|na|ist mir|schon) egal|doch nicht|"
                     r"plut[ôo]t|oublie (?:[çc]a|le|la)|invece|lascia perdere|em vez disso|esquece|in plaats daarvan|"
                     r"laat (?:ook )?maar|zapomnij o|zamiast tego|boşver|vazgeçtim|забудь(?:те)? (?:про|о|об)|лучше|"
                     r"вместо этого|انس[ىي]|بدل(?:ا|اً)? من|भूल जाओ|रहने दो|rehne do|chhodo)"
                     + _E, re.IGNORECASE)
# ... unless the fan asks for something first and means to come back ("first tell me ...").
_PAUSE = re.compile(_W + r"(?:first|before that|quickly|btw|by the way|primero|antes|zuerst|vorher|d'abord|avant|"
                    r"prima|primeiro|eerst)" + _E, re.IGNORECASE)

_QUESTION_START = re.compile(
    r"^\s*(?:what|what's|whats|how|can|could|do|does|did|is|are|was|will|would|should|when|which|who|why|"
    r"where|may|qu[ée]|c[oó]mo|cu[aá]nto|cu[aá]ndo|d[oó]nde|puedo|puede|se puede|hay|es|was|wie|wann|wo|kann|"
    r"gibt es|ist|sind|welche|quoi|comment|combien|quand|o[uù]|est-ce|puis-je|peut-on|che|come|quanto|quando|"
    r"posso|si pu[oò]|o que|como|quanto|onde|pode|wat|hoe|wanneer|waar|kan|mag|gdzie|kiedy|jak|czy|ile|co|"
    r"где|когда|как|сколько|можно|что|почему|أين|اين|متى|كيف|كم|هل|ماذا|لماذا|क्या|कब|कहाँ|कहां|कैसे|कितना)" + _E,
    re.IGNORECASE)

# The fan wants something done, not explained ("refund my order", "I want a refund", "quiero devolver").
_TASK = re.compile(
    _W + r"(?:i want|i'd like|i would like|i need|i wanna|please (?:refund|cancel|send|process|start|check|track)|"
    r"refund (?:me|my)|give me (?:my|a)|start (?:a|my) (?:return|refund)|process (?:my|a)|track my|"
    r"quiero|necesito|me gustar[ií]a|ich m[öo]chte|ich will|ich brauche|je veux|je voudrais|j'aimerais|"
    r"voglio|vorrei|eu quero|gostaria|ik wil|ik zou graag|quero(?! saber)|preciso|je souhaite|"
    r"devu[ée]lve(?:me|nme)|devolvedme|reembols(?:adme|ame|enme)|bitte erstatte\w*|erstatte(?:t|n sie)? mir|"
    r"rembourse(?:z)?-moi|rimborsatemi|devolvam|reembolsem|"
    r"chcę|chce|potrzebuję|potrzebuje|poproszę|istiyorum|хочу|мне нужн\w+|верните|أريد|اريد|بدي|عايز|"
    r"chciał(?:a)?bym|chciałabym|ik wil graag|أبغى|ابغى|أبغي|ابغي|عاوز|ودي|"
    r"चाहिए|चाहता हूँ|चाहती हूँ|chahiye|chahta|chahti)" + _E, re.IGNORECASE)

# Two requests in one message: split at a conjunction that starts a new clause, or before the
# inverted mark that opens a Spanish question or exclamation ("quiero un reembolso ¿cuánto tarda el
# envío?"): Spanish marks where a clause starts, so no question word is needed after it.
_SPLIT = re.compile(r"(?:\?\s+|\s+(?:and also|and then|and|also|plus|y también|y|und|et|e|en)\s+)"
                    r"(?=[¿¡]?(?:can|could|do|does|is|are|what|how|when|where|which|will|i|my|please|puedo|puedes|"
                    r"cu[aá]ndo|c[oó]mo|d[oó]nde|qu[ée]|kann|wie|wann|wo|was|est-ce|comment|quand|o[uù]|posso|come|"
                    r"quando|dove)\b)"
                    r"|(?:[?!]\s*|[,;:]?\s+)(?=[¿¡])",
                    re.IGNORECASE)


def is_cancel(text: str) -> bool:
    t = text.strip()
    if not t:
        return False
    m = CANCEL.match(t)
    if m:
        rest = t[m.end():].strip(" ,.!?;:-—")
        # "stop" alone cancels; "stop charging" is a report, not a cancel
        word = m.group(0).strip().lower()
        if word.endswith(("stop", "para", "basta", "stopp")) and rest and not re.match(r"^(?:it|that|please|thanks)\b", rest,
                                                                                  re.IGNORECASE):
            return False
        # "quit sending me emails about VT-100200, I need a refund": a request that starts with a cancel word
        if rest and (re.search(r"\bvt[-\s]?\d{6}\b", rest, re.IGNORECASE) or wants_task(rest) or is_question(rest)):
            return False
        return True
    return bool(CANCEL_ANYWHERE.search(t)) and len(t.split()) <= 12


# "still doesn't work", "that didn't help", "no me sirve": the answer just given did not help
_UNHELPED = re.compile(_W + r"(?:"
    # en
    r"(?:that|it|this) (?:didn'?t|did not|doesn'?t|does not) help|(?:didn'?t|did not|doesn'?t|does not) help(?: me| at all)?|"
    r"not helpful|no help|(?:still|it still) (?:doesn'?t|does not|won'?t|will not|isn'?t|is not|can'?t) (?:work|connect|pair|charge|turn on)|"
    r"still not (?:working|connecting|pairing|charging)|still broken|same problem|"
    r"(?:that'?s|that is|this is) not what i (?:asked|meant|need(?:ed)?)|not what i asked|"
    r"(?:doesn'?t|does not|didn'?t|did not) answer my question|"
    # es
    r"no (?:me )?(?:ha )?(?:ayuda(?:do)?|sirv(?:e|i[óo])|sirve de nada)|sigue sin (?:funcionar|ir|conectar|cargar)|"
    r"sigue (?:igual|sin funcionar)|(?:eso )?no es lo que (?:pregunt[ée]|preguntaba|quer[íi]a)|"
    # de
    r"(?:das )?hilft (?:mir )?(?:nicht|nichts|kein bisschen)|hat (?:mir )?nicht geholfen|"
    r"(?:funktioniert|geht|klappt) (?:immer )?noch nicht|(?:das )?war nicht meine frage|"
    # fr
    r"[çc]a (?:ne m'a|n'a|ne m'|n')(?: pas)? ?aid[ée]? ?(?:pas)?|[çc]a ne m'aide pas|[çc]a n'aide pas|"
    r"(?:ne )?(?:marche|fonctionne) toujours pas|ce n'est pas (?:ma question|ce que j'ai demand[ée])|"
    # it
    r"non (?:mi )?(?:aiuta|ha aiutato|è servito|serve)|(?:ancora )?non funziona ancora|ancora non funziona|"
    r"non [èe] quello che ho chiesto|"
    # pt
    r"n[ãa]o (?:me )?(?:ajud(?:a|ou)|serv(?:e|iu))|continua sem funcionar|ainda n[ãa]o funciona|"
    r"n[ãa]o [ée] (?:isso )?o que (?:eu )?perguntei|"
    # nl
    r"(?:dat |het )?helpt (?:me )?niet|heeft (?:me )?niet geholpen|werkt (?:nog steeds|nog altijd|steeds) niet|"
    # pl
    r"nie pomog(?:ło|lo|a)|(?:nadal|dalej|wciąż) nie działa|"
    # tr
    r"işe yaramadı|yardımcı olmadı|(?:hala|hâlâ|yine) (?:çalışmıyor|olmuyor)|"
    # ru
    r"не помог(?:ло|ает)|(?:всё|все|до сих пор|по-прежнему) (?:ещё |еще )?не работает|"
    # ar
    r"(?:لم|ما) (?:يساعد\w*|ساعد\w*|يفيد\w*|فاد\w*)|(?:لا يزال|ما زال|لسه) (?:لا )?(?:يعمل|يشتغل|شغال)|"
    # hi
    r"मदद नहीं (?:मिली|हुई)|(?:अभी भी|फिर भी) काम नहीं|(?:abhi bhi|still) kaam nahi\w*|madad nahi (?:mili|hui)"
    r")" + _E, re.IGNORECASE)

# "why do you need that?", "what for?", "¿para qué?", "wozu?": why the question is asked
_WHY = re.compile(r"^\s*(?:(?:but|and|ok|okay|hm+|pero|y|aber|und|mais|et|ma|e|mas|maar|en|ale|a|ama|но|а|لكن|पर)[\s,]+)?(?:"
    # en
    r"why\??|why (?:do|would|does|should) (?:you|i|u) (?:need|want|ask|have to give)\b.*|what (?:do you need|is) (?:it|that|this|my \w+) for|"
    r"what for\b.*|why (?:is|'s) (?:that|this|it) (?:needed|necessary|required)\b.*|is (?:that|this) (?:really )?necessary\b.*|"
    # es
    r"¿?por qu[ée]\??|¿?por qu[ée] (?:lo |la |me lo )?(?:necesit\w+|pid\w+|pregunt\w+|quier\w+)\b.*|¿?para qu[ée]\b.*|"
    # de
    r"warum\??|wieso\??|weshalb\??|wozu\b.*|wof[üu]r (?:brauch|ist das)\w*\b.*|warum (?:brauch|woll|frag)\w*\b.*|"
    # fr
    r"pourquoi\s*\??|pourquoi (?:vous |tu )?(?:en )?(?:avez|as) besoin\b.*|pourquoi (?:me )?(?:le )?demande\w*\b.*|pour quoi faire\b.*|"
    # it
    r"perch[ée]\??|perch[ée] (?:ti |vi |le )?(?:serve|servono|chiede\w*)\b.*|a (?:cosa|che) (?:ti |vi )?serve\b.*|"
    # pt
    r"por qu[êe]\??|por que (?:voc[êe]s? )?(?:precisa\w*|pede\w*|quer\w*)\b.*|pra qu[êe]\b.*|para que (?:serve|precisa)\w*\b.*|"
    # nl
    r"waarom\??|waarom (?:hebben jullie|heb je|heeft u|moet ik)\b.*|waarvoor\b.*|"
    # pl
    r"dlaczego\??|czemu\??|po co\b.*|dlaczego (?:tego |to )?(?:potrzebuj|chce)\w*\b.*|"
    # tr
    r"neden\??|niye\??|neden (?:gerekli|lazım|istiyorsunuz|soruyorsunuz)\b.*|ne için\b.*|"
    # ru
    r"зачем\b.*|почему\??|для чего\b.*|"
    # ar
    r"لماذا\s*[؟?]?|ليش\b.*|ليه\b.*|لماذا (?:تحتاج|تريد|تطلب)\w*\b.*|"
    # hi
    r"क्यों\s*\??|(?:ये|यह) क्यों चाहिए\b.*|किस लिए\b.*|kyu[n]?\??|kyon\??|kyun chahiye\b.*|kis liye\b.*"
    r")\s*[?؟!.]*\s*$", re.IGNORECASE)


# "help", "/help", "can you help me?", "ayuda", "Hilfe!": the whole message asks what the assistant can do
_HELP = re.compile(r"^\s*(?:(?:hi|hello|hey|hola|hallo|salut|ciao|oi|hoi|cześć|merhaba|привет|مرحبا|नमस्ते)[\s,!.]+)?(?:"
    r"/?help|help(?: me)?(?: please| pls)?|(?:can|could) (?:you|u) help(?: me)?(?: please)?|i need (?:some )?help|"
    r"what can (?:you|u) do|how does this work|"
    r"ayuda|ay[úu]dame|necesito ayuda|¿?me puedes ayudar|hilfe|kannst du mir helfen|ich brauche hilfe|"
    r"aide|aidez-moi|aide-moi|j'ai besoin d'aide|pouvez-vous m'aider|aiuto|aiutami|mi puoi aiutare|ho bisogno di aiuto|"
    r"ajuda|me ajuda|preciso de ajuda|pode me ajudar|help mij|kun je me helpen|ik heb hulp nodig|pomocy|pomoc|"
    r"potrzebuję pomocy|możesz mi pomóc|yardım|yardım edin|yardıma ihtiyacım var|помогите|помощь|нужна помощь|"
    r"مساعدة|ساعدني|أحتاج مساعدة|मदद|मदद चाहिए|मेरी मदद करो|madad|help chahiye"
    r")\s*[?!.¿¡؟]*\s*$", re.IGNORECASE)


# "I want to speak to someone about my order VT-482913" (read as the order task, 0.97; a person 0.02): a
# fan who asks for a person gets one, whatever else the message is about
_PERSON = re.compile(_W + r"(?:"
    r"(?:speak|talk|chat)(?:ing)? (?:to|with) (?:a |an |some |your )?(?:someone|somebody|human|person|people|agent|"
    r"representative|rep|real person|real human|live (?:agent|person)|manager|supervisor|operator|member of (?:staff|your team))|"
    r"(?:get|give) me (?:a |an )?(?:human|person|real person|agent)|i want (?:a |an )?(?:human|real person|agent)|"
    r"hablar con (?:una persona|alguien|un agente|un humano|un operador|una persona real)|"
    r"(?:mit |einem )?(?:einem menschen|jemandem|einem mitarbeiter|einer person|einem berater) (?:sprechen|reden)|"
    r"parler (?:à|a|avec) (?:quelqu'un|un conseiller|une personne|un humain|un agent)|"
    r"parlare con (?:qualcuno|un operatore|una persona|un umano)|falar com (?:algu[ée]m|um atendente|uma pessoa|um humano)|"
    r"(?:met|tegen) (?:iemand|een medewerker|een mens|een persoon) (?:praten|spreken)|"
    r"(?:porozmawiać|rozmawiać) z (?:kimś|człowiekiem|konsultantem|osobą)|"
    r"(?:biriyle|temsilciyle|insanla|bir insanla|müşteri temsilcisiyle) (?:görüşmek|konuşmak)|"
    r"(?:поговорить|связаться) с (?:человеком|оператором|кем-нибудь|сотрудником|менеджером)|"
    r"(?:أكلم|أتكلم مع|التحدث (?:مع|إلى)) (?:شخص|موظف|إنسان|أحد)|"
    r"(?:किसी (?:इंसान|व्यक्ति)|एजेंट) से बात|kisi (?:insaan|insan|agent) se baat"
    r")" + _E, re.IGNORECASE)


def asks_for_person(text: str) -> bool:
    """The fan asks for a person ("can I talk to someone?", "hablar con una persona")."""
    return bool(_PERSON.search(text))


def asks_for_help(text: str) -> bool:
    """The whole message asks for help and nothing else ("help", "can you help me?", "Hilfe!")."""
    return bool(_HELP.match(text))


def didnt_help(text: str) -> bool:
    """The answer just given did not help ("still doesn't work", "that's not what I asked"), and the
    message asks nothing new: "that's not what I asked, how much is shipping to Spain?" is a new question."""
    m = _UNHELPED.search(text)
    if not m or len(text.split()) > 14:
        return False
    rest = (text[:m.start()] + " " + text[m.end():]).strip(" ,.;:!-—")
    return len(rest.split()) < 3 or not (is_question(text) or wants_task(rest))


def asks_why(text: str) -> bool:
    """The fan asks why the question is asked ("why do you need that?", "wozu?"), and nothing else."""
    return bool(_WHY.match(text)) and len(text.split()) <= 10


def is_skip(text: str) -> bool:
    return bool(_SKIP.match(text.strip())) and len(text.split()) <= 8


def is_correction(text: str) -> bool:
    return bool(_CORRECTION.match(text))


def is_switch(text: str) -> bool:
    """The fan takes the current task back (and does not just want something else first)."""
    return bool(_SWITCH.search(text)) and not _PAUSE.search(text)


def is_question(text: str) -> bool:
    t = text.strip()
    return t.endswith(("?", "؟")) or t.startswith("¿") or bool(_QUESTION_START.match(t))


def wants_task(text: str) -> bool:
    return bool(_TASK.search(text))


def split_requests(text: str) -> list[str]:
    """'where is VT-482913 and can I pay with klarna?' -> two parts; one part when there is no clear split
    (either part under three words: "hola ¿qué tal?" stays one)."""
    t = text.strip()
    if len(t) > 400:
        return [t]
    m = _SPLIT.search(t)
    if not m:
        return [t]
    first, second = t[:m.start()].strip(" ,;"), t[m.end():].strip(" ,;")
    mark = m.group(0).strip()[:1]
    if mark in ("?", "!"):  # the first part keeps its own closing mark
        first += mark
    if len(first.split()) < 3 or len(second.split()) < 3:
        return [t]
    return [first, second]


_FILLER = {
    "my", "order", "number", "no", "nr", "is", "it", "it's", "its", "the", "here", "this", "that", "a", "an", "of",
    "for", "yes", "sure", "ok", "okay", "sorry", "please", "thanks", "thank", "you", "id", "code", "mi", "pedido",
    "es", "el", "número", "numero", "meine", "bestellung", "bestellnummer", "ist", "die", "mon", "ma", "commande",
    "numéro", "est", "c'est", "le", "la", "il", "mio", "ordine", "è", "meu", "é", "o", "mijn", "bestelling", "ordernummer", "=", ":", "-", "#",
}


def extra_words(text: str, value: str | None) -> int:
    """How many words the message has besides the value and filler ('my order number is VT-1'): 0-2
    means the fan just answered; more means they are saying something else too."""
    t = text.lower()
    if value:
        t = t.replace(str(value).lower(), " ")
        t = re.sub(r"\bvt[-\s]?\d{6}\b", " ", t)
    words = [w.strip(".,!?;:()\"'¿¡") for w in t.split()]
    return sum(1 for w in words if w and w not in _FILLER)
