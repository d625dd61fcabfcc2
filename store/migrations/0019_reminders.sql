-- A reminder while nobody acknowledges is a delivery (notification_deliveries), counted on the incident, not a
-- timeline line and an audit record every interval: in a short demo 142 of 269 audit records were reminders.
ALTER TABLE incidents ADD COLUMN reminders integer NOT NULL DEFAULT 0 CHECK (reminders >= 0);
