-- When each user's last alert went out, so the alert cooldown holds across processes (a
-- cron-driven `footfall run-schedule --once` is a new process every tick).
CREATE TABLE alert_cooldown (
    user_id VARCHAR(64) NOT NULL PRIMARY KEY,
    last_alert_at DATETIME NOT NULL
);
