"""The e-mail channel's writes, one module per concern (see docs/mail.md)."""
