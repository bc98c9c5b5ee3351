"""Email over SMTP: the outbox's sender for target ``email`` (``bot.domain.outbox.EMAIL``)."""
