-- A global, ever-increasing cursor on incident changes: a live client that reconnects asks for every change
-- after the last cursor it saw, so a dropped connection never loses an incident.
CREATE SEQUENCE incident_events_cursor;
ALTER TABLE incident_events ADD COLUMN cursor bigint NOT NULL DEFAULT nextval('incident_events_cursor');
CREATE INDEX incident_events_cursor_idx ON incident_events (cursor);
