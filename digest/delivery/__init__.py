"""Delivery: a stored issue to its frozen audience through the outbox (DESIGN.md §5).

    deliver.py   send_issue / report: the outbox rows, batches, retries, the run's outcome
    pool.py      a few reused SMTP connections in threads, the rate limit, what a reply does
    replies.py   what a reply means: whose fault it is (classify), the same refusal in a row
    stopping.py  SIGINT and SIGTERM during a send: a clean stop, exit 130 or 143
    smtp.py      where mail goes (DIGEST_SMTP_URL) and one connection that sends
    message.py   the issue's email, built once and filled in per subscriber
    cuts.py      each reader's sections: every cut in use rendered once, frozen with the audience
    proof.py     a test copy to one address, recorded nowhere
    bounces.py   DSNs that arrive later by email
    mailbox.py   unsubscribe requests that arrive by email (List-Unsubscribe mailto)

Where a message is committed to the outbox: `deliver.py` (`_Run._record`), through the SQL in
`digest/store/outbox.py`.
"""
