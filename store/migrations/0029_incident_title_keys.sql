-- An incident's title as a message key and its parameters, so each reader's page says it in their language
-- (command_ui/static/js/i18n.js). `title` keeps the English text for notifiers, the CSV and older readers;
-- incidents from before this migration, or from a rule file whose rule names no key, have no key and show it.
ALTER TABLE incidents ADD COLUMN title_key text;
ALTER TABLE incidents ADD COLUMN title_params jsonb NOT NULL DEFAULT '{}';
