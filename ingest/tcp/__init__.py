"""Binary device protocols over TCP: one generic asyncio listener, a protocol module each."""
