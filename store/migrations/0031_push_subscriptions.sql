-- Web Push subscriptions (issue 17: the guard's phone rings when locked). One row per browser: the push
-- service's endpoint names one browser's registration, so it is the key; a phone handed to another person and
-- subscribed again moves to them. The keys are the browser's (RFC 8291): p256dh its P-256 public key, auth its
-- 16-byte secret, both base64url as the browser's PushSubscription.toJSON() gives them. They encrypt what we send
-- to it and are no secret of ours: whoever holds them can only write to that browser, not read from it.
-- A person's subscriptions go with their account (ON DELETE CASCADE); a push service's 404 or 410 deletes one.
CREATE TABLE push_subscriptions (
    id            bigserial PRIMARY KEY,
    user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    endpoint      text NOT NULL UNIQUE CHECK (endpoint LIKE 'https://%' OR endpoint LIKE 'http://%'),
    p256dh        text NOT NULL,
    auth          text NOT NULL,
    user_agent    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_push_at  timestamptz,          -- the last push the service accepted
    last_error    text                  -- the last refusal or failure, for the operations page
);
CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id);
