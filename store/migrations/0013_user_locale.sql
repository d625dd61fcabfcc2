-- The language a person picked for themselves. `users.locale` is the site file's choice and is rewritten on
-- every site load, so a person's own pick lives beside it and wins when set: reloading the site file must not
-- undo what someone chose on their phone. NULL: no pick, the site file's language applies.
ALTER TABLE users ADD COLUMN chosen_locale text CHECK (chosen_locale IN ('en', 'zh-CN'));
