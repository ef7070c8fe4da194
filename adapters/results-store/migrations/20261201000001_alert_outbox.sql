-- Alerts waiting to be sent (the local runner's outbox). The job queues its alert here and a
-- sender delivers it with backoff, off the path that stores results; the state makes delivery
-- at most once across kills and overlapping processes:
--   pending -> sending (claimed, attempts + 1) -> sent
--                                              -> pending (a definite failure: try again at next_attempt_at)
--                                              -> failed  (refused, or out of attempts)
--   sending, left by a killed process           -> unknown (may have gone out: never resent)
CREATE TABLE alert_outbox (
    run_id VARCHAR(64) NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    email VARCHAR(320) NOT NULL,
    people INTEGER NOT NULL,
    threshold INTEGER NOT NULL,
    source VARCHAR(2048) NOT NULL,
    taken_at DATETIME NOT NULL,
    image_ref VARCHAR(1024) NULL,
    state VARCHAR(16) NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DATETIME NOT NULL,
    last_error VARCHAR(1024) NULL,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (run_id, user_id)
);

CREATE INDEX alert_outbox_due ON alert_outbox (state, next_attempt_at);
