-- Servers register themselves as upstream's replicas do (a row per running server, a
-- heartbeat every few seconds), and indexes for the purge service's time-ordered deletes.

CREATE TABLE replicas (
    id           text        PRIMARY KEY,
    hostname     text        NOT NULL,
    pid          bigint      NOT NULL,
    version      text        NOT NULL,
    started_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    stopped_at   timestamptz NULL
);

CREATE INDEX notification_messages_updated_at_idx ON notification_messages (updated_at);
CREATE INDEX api_keys_expires_at_idx ON api_keys (expires_at);
