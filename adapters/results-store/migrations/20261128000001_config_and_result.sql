-- One migration for SQLite (local runner) and MySQL/MariaDB (AWS): only types and syntax both
-- accept. Flags are integers (sqlx cannot decode BOOLEAN portably); times are UTC DATETIME at
-- second precision (MySQL's DATETIME default), written by the application.
CREATE TABLE config (
    user_id VARCHAR(64) NOT NULL PRIMARY KEY,
    streaming_URL VARCHAR(2048) NOT NULL,
    email VARCHAR(320) NOT NULL,
    Monitoring_status INTEGER NOT NULL DEFAULT 1,
    threshold INTEGER NOT NULL DEFAULT 15,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
);

-- (run_id, user_id) is the key, so a retried job inserts nothing twice, without the upsert
-- syntax that differs between the two databases. No foreign key: results outlive a removed user.
CREATE TABLE result (
    run_id VARCHAR(64) NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    taken_at DATETIME NOT NULL,
    people_count INTEGER NULL,
    health VARCHAR(16) NOT NULL,
    frames INTEGER NOT NULL,
    source VARCHAR(2048) NOT NULL,
    image_ref VARCHAR(1024) NULL,
    PRIMARY KEY (run_id, user_id)
);

CREATE INDEX result_user_taken ON result (user_id, taken_at);
