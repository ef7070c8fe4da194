-- Issue 12. A user's job configuration: tracking rate, counting lines, zones and the debounced
-- alert rule, as the JSON text of `footfall_tracking::JobConfig` (checked by the application
-- before it is written); NULL: the plain job. TEXT and a nullable added column are portable.
ALTER TABLE config ADD COLUMN tracking TEXT NULL;

-- Whether each user's debounced alert rule is armed, as the last run left it, so a breach that
-- lasts several scheduled runs alerts once and the rule re-arms only after a run whose samples
-- fell below threshold - margin. `taken_at` is the time of the result that set it: a re-run of
-- an older tick does not overwrite a later run's state.
CREATE TABLE alert_rule_state (
    user_id VARCHAR(64) NOT NULL PRIMARY KEY,
    armed INTEGER NOT NULL,
    taken_at DATETIME NOT NULL
);
