"""Binary device protocols as pure codecs (framing, fields, answers): no I/O, tested against whole frames."""
