"""What a mail server's reply means for one message, and when refusals are the relay's.

    classify(code, reply, stage) -> "bounce" | "fail" | "defer" | "pause" | "halt"
    Streak: holds permanent refusals while they could be the relay refusing everyone

The rule (DESIGN.md §5): an address is blamed only for a reply that is clearly about it. A
refusal that is about the relay, the sender or the message (relaying denied, sender verify
failed, authentication required, a 5.7.x policy, a size limit, anything at MAIL FROM or to
the message at DATA) pauses the run and blames nobody; so does the same 5xx for
`SAME_REFUSALS` addresses in a row, which is the relay refusing everyone, not as many dead
mailboxes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ..store.outbox import OutboxRow

Stage = Literal["mail", "rcpt", "data"]  # the SMTP command the reply answered

# The same permanent refusal for this many addresses in a row pauses the run. Five: a list
# whose next five addresses are all dead in the same words is rare (the address itself is
# taken out of the reply before comparing), and five refusals cost a relay nothing.
SAME_REFUSALS = 5

_ENHANCED = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
# RFC 3463 X.1.x codes that name the destination mailbox or its domain (5.1.7 and 5.1.8
# are about the sender's address, 5.1.0 is "other", used by Postfix for sender refusals).
_DESTINATION = frozenset((1, 2, 3, 6, 10))
_SENDER = frozenset(((1, 7), (1, 8)))
# Words that put the fault on our side (the relay, the sender, the login, our reputation):
# every address would get the same reply.
_NOT_RECIPIENT = re.compile(
    r"relay|sender|authenticat|\bauth\b|client host|\bspf\b|dmarc|spam|"
    r"black ?list|block ?list",
    re.IGNORECASE,
)
# Words that name the mailbox itself (RFC 5321's texts and the common servers').
_MAILBOX = re.compile(
    r"user unknown|unknown user|no such (?:user|mailbox|recipient|address)|"
    r"mailbox (?:unavailable|not found|does not exist|doesn't exist)|"
    r"unknown (?:recipient|mailbox)|recipient (?:unknown|not found)|"
    r"user (?:not found|does not exist|doesn't exist)|invalid (?:recipient|mailbox)|"
    r"(?:address|account) (?:does not|doesn't) exist|user not local",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Result:
    """What became of one message.

    kind: sent, defer, fail, bounce, paused (a reply that paused the run: deferred, due at
    once, the attempt counted), halted (a refusal of the sender or of the message: the row
    stays pending, as if not tried), untried. `stage` is set for a server's reply.
    `ticket` numbers the transactions in the order they were started (0: never started);
    `seen`, for a refusal, is the last ticket started when its reply came back.
    """

    row: OutboxRow
    kind: str
    reply: str = ""
    stage: str = ""
    ticket: int = 0
    seen: int = 0


def classify(code: int, reply: str, stage: Stage = "rcpt") -> str:
    """What a refusal means; `reply` without the recipient's address (`without_address`).

    bounce: the mailbox does not exist (the address is suppressed); fail: this recipient
    refused for good; defer: try later; pause: stop the run, this address is due again at
    once (a policy or rate limit at RCPT, 421); halt: stop the run, this row stays pending
    (the sender or the message refused: no address is to blame). Greylisting (a 4.7.x
    "greylisted" reply) is a deferral: pausing for it would stall every run at one address.
    """
    enhanced = _ENHANCED.match(reply)
    subject, detail = (int(enhanced[2]), int(enhanced[3])) if enhanced else (0, 0)
    stop = "pause" if stage == "rcpt" else "halt"
    if code == 421:  # the server is closing the session: come back later
        return "pause"
    if stage == "mail":  # the sender refused: every message would be
        return "halt"
    if 400 <= code < 500:
        if "greylist" in reply.lower():
            return "defer"
        return "pause" if subject == 7 or _NOT_RECIPIENT.search(reply) else "defer"
    if not 500 <= code < 600:  # a reply we cannot read: not a verdict on anyone
        return stop
    if subject == 1 and detail in _DESTINATION:
        return "bounce"
    # 5.3.x the relay's own state (5.3.4: too big), 5.6.x the content, 5.7.x policy.
    if _NOT_RECIPIENT.search(reply) or subject in (3, 6, 7) or (subject, detail) in _SENDER:
        return stop
    if _MAILBOX.search(reply):
        return "bounce"
    # At DATA the message itself is refused, unless the reply is about the address or
    # the mailbox (5.1.x, 5.2.x): the same bytes go to everyone.
    return "halt" if stage == "data" and subject not in (1, 2) else "fail"


def about_us(reply: str) -> bool:
    """The reply names our side (relay, sender, login, reputation), not the recipient."""
    return bool(_NOT_RECIPIENT.search(reply))


def without_address(reply: str, address: str) -> str:
    """`reply` with the recipient's address (and its local part) taken out: what is left
    is the same for two addresses refused for the same reason, and no word of an address
    ("relay@…", "sender@…") can change a verdict."""
    text = re.sub(re.escape(address), "<>", reply, flags=re.IGNORECASE)
    local = address.rpartition("@")[0]
    if len(local) >= 3:
        text = re.sub(re.escape(local), "<>", text, flags=re.IGNORECASE)
    return text


class Streak:
    """Holds permanent refusals (fail, bounce) while they could be the relay's.

    `SAME_REFUSALS` refusals in a row with the same reply (address taken out) trip it: none
    of those addresses is blamed, and the run pauses. A message accepted, or a different
    refusal, ends a streak: the refusals held are then each their address's own. Only the
    refusals of messages started before the accepted one are released, though: with several
    connections, a message started just before the relay began refusing can be accepted
    after the first refusals came back, and it says nothing about them. An address
    tried before is judged on its own once this run has seen the relay accept a message
    (so a cluster of dead addresses pauses one run, not every run); before that it counts
    like any other. Not thread-safe: the pool calls it under its lock.

    Which refusals an acceptance releases: only those that had come back before the
    accepted message was started (`seen` < its ticket). Then the server refused them before
    it saw the accepted message, and went on accepting: the relay works, each refusal is its
    address's own. A refusal that came back later is no proof either way (the connections
    race: the server may have taken the accepted message first), so it stays held.
    """

    def __init__(self, limit: int = SAME_REFUSALS) -> None:
        self.limit = limit
        self.held: list[Result] = []
        self.key = ""
        self.accepted = False
        self.tripped = False

    def accept(self, ticket: int) -> list[Result]:
        """The message started as `ticket` went through: the refusals held that had come
        back before it was started were their addresses' own; the others stay held."""
        self.accepted = True
        if self.tripped:
            return []
        earlier = [r for r in self.held if r.seen < ticket]
        self.held = [r for r in self.held if r.seen >= ticket]
        if not self.held:
            self.key = ""
        return earlier

    def refuse(self, result: Result) -> list[Result]:
        """One more refusal; returns the results decided now (often none)."""
        if self.tripped:
            self.held.append(result)
            return []
        if result.row.attempts and self.accepted:
            return [result]
        key = " ".join(without_address(result.reply, result.row.email).lower().split())
        released = self._release() if key != self.key else []
        self.key = key
        self.held.append(result)
        self.tripped = len(self.held) >= self.limit
        return released

    def hold(self, result: Result) -> None:
        """A refusal that came in after the run paused: judged by `settle`, not now."""
        self.held.append(result)

    def settle(self, judged: bool) -> list[Result]:
        """Empty the streak. The refusals held are their addresses' own when `judged` (the
        run went to its end, and they never made a streak); else nobody is blamed: each
        is deferred, due at once, like the reply that paused the run."""
        if judged and not self.tripped:
            return self._release()
        held, self.held = self.held, []
        return [Result(r.row, "paused", r.reply, r.stage) for r in held]

    def _release(self) -> list[Result]:
        held, self.held, self.key = self.held, [], ""
        return held
