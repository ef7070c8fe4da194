-- Issue 12. What a queued alert's `people` counts when the user's rule watches a zone or a line
-- (`people in zone queue`, `crossings in over line door within 60 s`); NULL: the people count.
-- The email says it, so a zone or line alert is not worded as a head count.
ALTER TABLE alert_outbox ADD COLUMN metric VARCHAR(160) NULL;
