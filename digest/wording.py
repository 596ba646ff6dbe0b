"""What the weekly workflow says to staff, in the newsletter's language (French first).

`say(language, key, **fields)` formats one phrase. For every int field `n` it also provides
`n_s`, the plural "s" of that language (French: more than one; English: not one), so a
phrase reads "1 envoyé, 3 envoyés". The build summary has its own table (summary.py).
Errors and their hints stay in English: they quote config keys and commands, and are what
one pastes into a bug report.
"""

from __future__ import annotations

PHRASES: dict[str, dict[str, str]] = {
    "fr": {
        # cron decisions (digest run)
        "build": "{issue} : construction de la lettre de la semaine écoulée",
        "already_sent": "{issue} : déjà envoyée, rien à faire",
        "resume": "{issue} : reprise de l'envoi en cours",
        "skipped_earlier": "{issue} : écartée plus tôt, rien à faire (--force l'envoie)",
        "not_approved": "{issue} : NON ENVOYÉE : pas approuvée avant la date limite",
        "waiting": "{issue} : en attente d'approbation : digest approve {issue}",
        "thin": ("{issue} : NON ENVOYÉE : seulement {count} article{count_s}, moins que {minimum}"),
        "late": "{issue} : NON ENVOYÉE : sa date limite ({deadline}) est passée",
        "send": "{issue} : envoi",
        # approval and the list of issues
        "approved_already": "{issue} : déjà approuvée",
        "approved": "{issue} : approuvée ; le prochain `digest run` l'envoie",
        "issue_line": "{issue}  {status:<9} {count:>3} article{count_s}  construite le {built}",
        # delivery
        "delivery": (
            "{issue} : {sent} envoyé{sent_s}, {deferred} différé{deferred_s}, {failed} en échec"
            " (dont {bounced} rejeté{bounced_s}), {pending} pas encore tenté{pending_s}"
            " — {audience} en tout"
        ),
        "later": "{issue} : {pending} laissé{pending_s} pour plus tard : {why}",
        "quota": (
            "le quota d'envoi ({quota}) est atteint pour plus de {wait} s : le prochain"
            " passage continue"
        ),
        "per_hour": "{count} par heure",
        "per_minute": "{count} par minute",
        "deferred_next": "les adresses différées seront réessayées au prochain `digest send`",
        "test_copy": "{issue} : copie de test envoyée à {address} ({message_id})",
        "nothing_to_send": (
            "rien à envoyer : aucune lettre approuvée ou en cours d'envoi (approuvez-en une"
            " avec `digest approve ISSUE`, ou nommez-la avec --issue)"
        ),
        "would_test": "{issue} : enverrait une copie de test à {address}",
        "would_send": "{issue} : enverrait à {count} abonné{count_s}",
        "and_more": "  … et {count} autre{count_s}",
        "not_sent_yet": "{issue} n'a pas encore été envoyée",
        # check and build
        "check_ok": "{path} : ok ({sources} source{sources_s}, {themes} thème{themes_s})",
        "no_browser": "aucun navigateur trouvé : ouvrez {path}",
        "unapproved": (
            "note : {issue} reconstruite, son approbation est retirée : relisez-la,"
            " puis digest approve {issue}"
        ),
        "kept_sent": "note : {issue} a déjà été envoyée ; le stockage garde la version envoyée",
        # subscribers (staff's commands)
        "sub_added": "{email} : ajoutée ({status})",
        "sub_now": "{email} : déjà présente, désormais {status}",
        "sub_removed": "{email} : désinscrite",
        "sub_not_subscribed": "{email} : n'était pas inscrite",
        "sub_imported": (
            "{added} ajoutée{added_s}, {confirmed} confirmée{confirmed_s}, {unchanged}"
            " inchangée{unchanged_s}, {left} laissée{left_s} en l'état, {bad} ligne{bad_s}"
            " invalide{bad_s}"
        ),
        "sub_erase_confirm": (
            "Effacer toutes les données personnelles de {email} ? C'est irréversible"
        ),
        "sub_erased": (
            "{email} : effacée (le journal des consentements ne garde que l'empreinte"
            " sha256 {digest}…)"
        ),
        "bounce_marked": "{email} : adresse en échec ({status}), ne recevra plus la lettre",
        "bounce_failed": "{email} : échec de remise signalé ({status}), adresse gardée",
        "bounce_ignored": (
            "{name} : pas un rapport d'échec sur un message de la lettre : rien n'est fait"
        ),
        # build warnings (themes)
        "trimmed": "{count} article{count_s} laissé{count_s} de côté par les plafonds ({caps})",
        "unmatched": "{label} : {kind} {url} ne correspond à aucun article de {issue}",
        "unknown_theme": (
            "« {title} » ({source}) : le thème « {theme} » de l'en-tête n'est pas un thème"
            " configuré ; l'article est classé par les autres règles"
        ),
    },
    "en": {
        "build": "{issue}: building the issue of the past week",
        "already_sent": "{issue}: already sent, nothing to do",
        "resume": "{issue}: resuming the delivery that was under way",
        "skipped_earlier": "{issue}: skipped earlier, nothing to do (--force sends it)",
        "not_approved": "{issue}: NOT SENT: not approved before the deadline",
        "waiting": "{issue}: waiting for approval: digest approve {issue}",
        "thin": "{issue}: NOT SENT: only {count} item{count_s}, fewer than {minimum}",
        "late": "{issue}: NOT SENT: its deadline ({deadline}) has passed",
        "send": "{issue}: sending",
        "approved_already": "{issue}: already approved",
        "approved": "{issue}: approved; the next `digest run` sends it",
        "issue_line": "{issue}  {status:<9} {count:>3} item{count_s}  built {built}",
        "delivery": (
            "{issue}: {sent} sent, {deferred} deferred, {failed} failed ({bounced} bounced),"
            " {pending} not tried yet — {audience} in all"
        ),
        "later": "{issue}: {pending} left for later: {why}",
        "quota": "the delivery quota ({quota}) is used up for more than {wait} s: the next run"
        " goes on",
        "per_hour": "{count} an hour",
        "per_minute": "{count} a minute",
        "deferred_next": "deferred addresses are retried by the next `digest send`",
        "test_copy": "{issue}: test copy sent to {address} ({message_id})",
        "nothing_to_send": (
            "nothing to send: no issue is approved or being sent"
            " (approve one with `digest approve ISSUE`, or name it with --issue)"
        ),
        "would_test": "{issue}: would send one test copy to {address}",
        "would_send": "{issue}: would send to {count} subscriber{count_s}",
        "and_more": "  … and {count} more",
        "not_sent_yet": "{issue} has not been sent yet",
        "check_ok": "{path}: ok ({sources} source{sources_s}, {themes} theme{themes_s})",
        "no_browser": "no browser found: open {path}",
        "unapproved": (
            "note: {issue} rebuilt, its approval is withdrawn: review it,"
            " then digest approve {issue}"
        ),
        "kept_sent": "note: {issue} was already sent; the store keeps the sent version",
        "sub_added": "{email}: added {status}",
        "sub_now": "{email}: now {status}",
        "sub_removed": "{email}: unsubscribed",
        "sub_not_subscribed": "{email}: was not subscribed",
        "sub_imported": (
            "{added} added, {confirmed} confirmed, {unchanged} unchanged, {left} left as they"
            " are, {bad} bad line{bad_s}"
        ),
        "sub_erase_confirm": "Erase every personal data of {email}? This cannot be undone",
        "sub_erased": "{email}: erased (the consent log keeps only sha256 {digest}…)",
        "bounce_marked": "{email}: bounced ({status}), gets nothing more",
        "bounce_failed": "{email}: delivery failure reported ({status}), address kept",
        "bounce_ignored": "{name}: not a failure report about one of our messages: nothing done",
        "trimmed": "{count} item{count_s} left out by the caps ({caps})",
        "unmatched": "{label}: {kind} {url} matches no item of {issue}",
        "unknown_theme": (
            "'{title}' ({source}): front matter theme '{theme}' is not a configured theme;"
            " the item was placed by the other rules"
        ),
    },
}


def say(language: str, key: str, **fields: object) -> str:
    """The phrase `key` in `language` (English when the language has no table)."""
    french = language == "fr"
    plurals = {
        f"{name}_s": "s" if (value > 1 if french else value != 1) else ""
        for name, value in fields.items()
        if isinstance(value, int) and not isinstance(value, bool)
    }
    return PHRASES.get(language, PHRASES["en"])[key].format(**fields, **plurals)
