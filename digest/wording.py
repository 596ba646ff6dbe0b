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
        "thin": "{issue} : NON ENVOYÉE : seulement {count} article{count_s}, moins de {minimum}",
        "late": "{issue} : NON ENVOYÉE : sa date limite ({deadline}) est passée",
        "send": "{issue} : envoi",
        # approval and the list of issues
        "approved_already": "{issue} : déjà approuvée",
        "approved": (
            "{issue} : approuvée ; le prochain `digest run` l'envoie (date limite : {deadline})"
        ),
        "issue_line": "{issue}  {status:<16} {count:>3} article{count_s}  faite le {built}",
        # -- what approve, run, send and check say about what will (not) happen --
        "check_no_sender": (
            "attention : newsletter.sender n'a pas d'adresse : `digest send`, `digest run` et"
            " `digest serve` en ont besoin (le From: des emails)"
        ),
        "approve_sending": (
            "{issue} : déjà en cours d'envoi, {left} adresse{left_s} restante{left_s} : rien à"
            " approuver"
        ),
        "approved_from": (
            "{issue} : approuvée ; `digest run` l'enverra à partir du {slot} (date limite :"
            " {deadline})"
        ),
        "approved_preview": (
            "attention : {issue} est un aperçu, construite le {built}, avant la fin de sa"
            " semaine ({end}). Approuvée, elle part telle quelle : `digest run` ne la"
            " reconstruit pas, et ce qui paraîtra d'ici là n'y sera pas. Pour la semaine"
            " complète : `digest build --week {issue}` après le {end}, puis"
            " `digest approve {issue}`"
        ),
        "kept_sending": (
            "note : {issue} est en cours d'envoi ({left} adresse{left_s} restante{left_s}) ; le"
            " stockage garde la version qui part"
        ),
        "picked": (
            "{issue} : choisie par défaut ({status}, {count} article{count_s}, faite le"
            " {built}) ; --issue ISSUE pour en choisir une autre"
        ),
        "passed_late": (
            "{issue} : approuvée mais pas choisie : sa date limite ({deadline}) est passée ;"
            " `digest send --issue {issue}` l'envoie quand même"
        ),
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
        "deferred_next": "les adresses différées seront réessayées au prochain `{command}`",
        "test_copy": "{issue} : copie de test envoyée à {address} ({message_id})",
        "test_copy_view": (
            "note : le lien « Voir dans le navigateur » de cette copie mènera à la page de"
            " {issue} une fois la lettre envoyée"
        ),
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
        "no_issues": "aucune lettre en mémoire : digest build en construit une",
        "unapproved": (
            "note : {issue} reconstruite, son approbation est retirée : relisez-la,"
            " puis digest approve {issue}"
        ),
        "kept_sent": "note : {issue} a déjà été envoyée ; le stockage garde la version envoyée",
        # subscribers (staff's commands)
        "sub_added": "{email} : ajoutée ({status})",
        "sub_now": "{email} : était {was}, désormais {status}",
        "sub_already": "{email} : déjà {status}",
        "sub_removed": "{email} : désinscrite",
        "sub_removed_was": "{email} : désinscrite (était {status})",
        # the statuses as staff read them (the CSV keeps the raw values): see status_label
        "sub_status_pending": "en attente",
        "sub_status_confirmed": "confirmée",
        "sub_status_unsubscribed": "désinscrite",
        "sub_status_bounced": "en échec",
        "sub_status_erased": "effacée",
        # a message's status in `digest report` (the outbox row)
        "row_status_deferred": "différé",
        "row_status_failed": "en échec",
        "row_status_bounced": "rejeté",
        "row_status_pending": "en attente",
        # an issue's status in `digest issues` and the default pick of `digest send`
        "issue_status_built": "construite",
        "issue_status_approved": "approuvée",
        "issue_status_sending": "en cours d'envoi",
        "issue_status_sent": "envoyée",
        "issue_status_skipped": "écartée",
        "sub_head_email": "ADRESSE",
        "sub_head_status": "STATUT",
        "sub_head_since": "DEPUIS",
        "sub_count": "{count} adresse{count_s}",
        "sub_none": "aucune adresse",
        "sub_import_left": "ligne {line} : {email} est {status}, laissée en l'état",
        "sub_imported": (
            "{added} ajoutée{added_s}, {confirmed} confirmée{confirmed_s}, {unchanged}"
            " inchangée{unchanged_s}, {left} laissée{left_s} en l'état, {bad} ligne{bad_s}"
            " invalide{bad_s}"
        ),
        "sub_erase_confirm": (
            "Effacer toutes les données personnelles de {email} ? C'est irréversible. [o/N] "
        ),
        "sub_answer_yes_no": "répondez o (oui) ou n (non)",
        "sub_erase_declined": "{email} : rien n'est effacé",
        "sub_erased": (
            "{email} : effacée (le journal des consentements ne garde que l'empreinte"
            " sha256 {digest}…)"
        ),
        "unsub_no_token": (
            "{name} : aucun jeton de désinscription dans l'objet de ce message : rien n'est fait"
        ),
        "unsub_bad_token": (
            "{name} : le jeton de désinscription de l'objet n'est pas valide : rien n'est fait"
        ),
        "unsub_failed": (
            "{failed} message{failed_s} sur {total} sans jeton de désinscription valide ; le lien"
            " de désinscription en bas de chaque lettre fonctionne aussi"
        ),
        "bounce_marked": "{email} : adresse en échec ({status}), ne recevra plus la lettre",
        "bounce_failed": "{email} : échec de remise signalé ({status}), adresse gardée",
        "bounce_delayed": (
            "{email} : simple avis de retard ({status}), le serveur réessaie : rien n'est fait"
        ),
        "bounce_ignored": (
            "{name} : pas un rapport d'échec sur un message de la lettre : rien n'est fait"
        ),
        "bounce_unreadable": "{name} : rapport illisible, rien n'est fait ({error})",
        # build warnings (themes)
        "trimmed": "{count} article{count_s} laissé{count_s} de côté par les plafonds ({caps})",
        "unmatched": "{label} : {kind} {url} ne correspond à aucun article de {issue}",
        "unknown_theme": (
            "« {title} » ({source}) : le thème « {theme} » de l'en-tête n'est pas un thème"
            " configuré ; l'article est classé par les autres règles"
        ),
        # issue 10 (delivery)
        "stopping": (
            "{signal} reçu : arrêt dès que les messages en cours ont leur réponse (ce que le"
            " serveur a accepté est noté) ; un second signal arrête tout de suite"
        ),
        "stopping_now": (
            "{signal} reçu de nouveau : arrêt immédiat ; les quelques messages en cours"
            " repartiront au prochain envoi, avec le même Message-ID"
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
        "approved": "{issue}: approved; the next `digest run` sends it (deadline: {deadline})",
        "issue_line": "{issue}  {status:<8} {count:>3} item{count_s}  built {built}",
        # -- what approve, run, send and check say about what will (not) happen --
        "check_no_sender": (
            "warning: newsletter.sender has no address: `digest send`, `digest run` and"
            " `digest serve` need it (the From: of the emails)"
        ),
        "approve_sending": (
            "{issue}: already being sent, {left} recipient{left_s} left: nothing to approve"
        ),
        "approved_from": (
            "{issue}: approved; `digest run` sends it from {slot} on (deadline: {deadline})"
        ),
        "approved_preview": (
            "warning: {issue} is a preview, built {built}, before its week was over ({end})."
            " Approved, it goes out as it is: `digest run` does not rebuild it, and what is"
            " published until then will not be in it. For the whole week: `digest build"
            " --week {issue}` after {end}, then `digest approve {issue}`"
        ),
        "kept_sending": (
            "note: {issue} is being sent ({left} recipient{left_s} left); the store keeps the"
            " version going out"
        ),
        "picked": (
            "{issue}: picked by default ({status}, {count} item{count_s}, built {built});"
            " --issue ISSUE for another one"
        ),
        "passed_late": (
            "{issue}: approved but not picked: its deadline ({deadline}) has passed;"
            " `digest send --issue {issue}` sends it anyway"
        ),
        "delivery": (
            "{issue}: {sent} sent, {deferred} deferred, {failed} failed ({bounced} bounced),"
            " {pending} not tried yet — {audience} in all"
        ),
        "later": "{issue}: {pending} left for later: {why}",
        "quota": "the delivery quota ({quota}) is used up for more than {wait} s: the next run"
        " goes on",
        "per_hour": "{count} an hour",
        "per_minute": "{count} a minute",
        "deferred_next": "deferred addresses are retried by the next `{command}`",
        "test_copy": "{issue}: test copy sent to {address} ({message_id})",
        "test_copy_view": (
            'note: this copy\'s "view in browser" link leads to the page of {issue}'
            " once the issue is sent"
        ),
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
        "no_issues": "no issue stored yet: digest build makes one",
        "unapproved": (
            "note: {issue} rebuilt, its approval is withdrawn: review it,"
            " then digest approve {issue}"
        ),
        "kept_sent": "note: {issue} was already sent; the store keeps the sent version",
        "sub_added": "{email}: added ({status})",
        "sub_now": "{email}: was {was}, now {status}",
        "sub_already": "{email}: already {status}",
        "sub_removed": "{email}: unsubscribed",
        "sub_removed_was": "{email}: unsubscribed (was {status})",
        "sub_status_pending": "pending",
        "sub_status_confirmed": "confirmed",
        "sub_status_unsubscribed": "unsubscribed",
        "sub_status_bounced": "bounced",
        "sub_status_erased": "erased",
        "row_status_deferred": "deferred",
        "row_status_failed": "failed",
        "row_status_bounced": "bounced",
        "row_status_pending": "pending",
        "issue_status_built": "built",
        "issue_status_approved": "approved",
        "issue_status_sending": "sending",
        "issue_status_sent": "sent",
        "issue_status_skipped": "skipped",
        "sub_head_email": "EMAIL",
        "sub_head_status": "STATUS",
        "sub_head_since": "SINCE",
        "sub_count": "{count} subscriber{count_s}",
        "sub_none": "no subscribers",
        "sub_import_left": "line {line}: {email} is {status}: left as it is",
        "sub_imported": (
            "{added} added, {confirmed} confirmed, {unchanged} unchanged, {left} left as they"
            " are, {bad} bad line{bad_s}"
        ),
        "sub_erase_confirm": "Erase all personal data of {email}? This cannot be undone. [y/N] ",
        "sub_answer_yes_no": "answer y (yes) or n (no)",
        "sub_erase_declined": "{email}: nothing erased",
        "sub_erased": "{email}: erased (the consent log keeps only sha256 {digest}…)",
        "unsub_no_token": "{name}: no unsubscribe token in the subject of this email: nothing done",
        "unsub_bad_token": (
            "{name}: the unsubscribe token in the subject is not valid: nothing done"
        ),
        "unsub_failed": (
            "{failed} of {total} email{total_s} without a valid unsubscribe token; the"
            " unsubscribe link at the bottom of every issue works too"
        ),
        "bounce_marked": "{email}: bounced ({status}), gets nothing more",
        "bounce_failed": "{email}: delivery failure reported ({status}), address kept",
        "bounce_delayed": (
            "{email}: only a delay notice ({status}), the server keeps trying: nothing done"
        ),
        "bounce_ignored": "{name}: not a failure report about one of our messages: nothing done",
        "bounce_unreadable": "{name}: unreadable report, nothing done ({error})",
        "trimmed": "{count} item{count_s} left out by the caps ({caps})",
        "unmatched": "{label}: {kind} {url} matches no item of {issue}",
        "unknown_theme": (
            "'{title}' ({source}): front matter theme '{theme}' is not a configured theme;"
            " the item was placed by the other rules"
        ),
        # issue 10 (delivery)
        "stopping": (
            "{signal} received: stopping once the messages in flight have their reply (what"
            " the server accepted is recorded); a second signal stops at once"
        ),
        "stopping_now": (
            "{signal} received again: stopping at once; the few messages in flight go again"
            " with the next send, with the same Message-ID"
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


def status_label(language: str, status: str, of: str = "sub") -> str:
    """A status as staff read it (`of`: "sub" a subscriber's, "row" a message's in the
    outbox, "issue" an issue's); the raw value if it has no label.

    Only what people read goes through here: CSV and JSON keep the raw values (a contract).
    """
    key = f"{of}_status_{status}"
    return say(language, key) if key in PHRASES["en"] else status
