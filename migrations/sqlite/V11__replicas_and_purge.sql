-- Servers register themselves as upstream's replicas do (a row per running server, a
-- heartbeat every few seconds), and indexes for the purge service's time-ordered deletes.

CREATE TABLE replicas (
    id           TEXT    PRIMARY KEY NOT NULL,
    hostname     TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    version      TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    stopped_at   INTEGER NULL
) STRICT;

CREATE INDEX notification_messages_updated_at_idx ON notification_messages (updated_at);
CREATE INDEX api_keys_expires_at_idx ON api_keys (expires_at);
