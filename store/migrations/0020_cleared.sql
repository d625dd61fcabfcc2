-- When a condition's incident (overspeed, off route, device offline, a child check done late...) saw its condition
-- return to normal: server time of that decision. It stays open until a person closes it, but escalation stops
-- (ISA-18.2's "returned to normal, unacknowledged"). A new occurrence clears it again. Panics never clear.
ALTER TABLE incidents ADD COLUMN cleared_at timestamptz;
