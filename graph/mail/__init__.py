"""Mail to people: the outbox that SMTP delivery (`api.mail_delivery`) sends from, and each
person's choice of how they hear of their notices.

The parts, each importing only those listed before it:
- `preferences`: immediate mail, a daily digest or none, and the language of the mails.
- `outbox`: queueing mails in the transaction of what they tell of, the daily digests,
  claiming due mails under a lease and recording what each attempt did.
"""
