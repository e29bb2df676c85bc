"""Schema migrations for the SQL stores, applied in order; ``PRAGMA user_version`` (SQLite) or
the ``dylive_schema`` table (PostgreSQL) records how many have run.

Append new steps at the end; never edit a released one.
"""

from __future__ import annotations

SQLITE: tuple[str, ...] = (
    # 1: messages, rooms, tokens, positions, pins
    """
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        room_id INTEGER NOT NULL,
        msg_id INTEGER NOT NULL,
        method TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        stored_at INTEGER NOT NULL,
        rendered BLOB NOT NULL,
        raw BLOB NOT NULL
    );
    CREATE UNIQUE INDEX events_room_msg ON events (room_id, msg_id);
    CREATE INDEX events_room_seq ON events (room_id, seq);
    CREATE TABLE rooms (
        room_id INTEGER PRIMARY KEY,
        web_rid TEXT NOT NULL DEFAULT '',
        status INTEGER NOT NULL DEFAULT 0,
        anchor_uid INTEGER NOT NULL DEFAULT 0,
        anchor_sec_uid TEXT NOT NULL DEFAULT '',
        anchor_nickname TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL DEFAULT '',
        updated_at INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX rooms_web_rid ON rooms (web_rid, updated_at);
    CREATE TABLE tokens (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        digest TEXT NOT NULL UNIQUE,
        room_limit INTEGER NOT NULL DEFAULT 0,
        rate REAL NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE positions (
        token_id INTEGER NOT NULL,
        room_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (token_id, room_id)
    ) WITHOUT ROWID;
    CREATE TABLE pins (ident TEXT PRIMARY KEY) WITHOUT ROWID;
    """,
    # 2: per-room upstream position (stored with each batch); quarantined (poison) messages
    """
    CREATE TABLE upstream_positions (
        room_id INTEGER PRIMARY KEY,
        transport TEXT NOT NULL DEFAULT '',
        cursor TEXT NOT NULL DEFAULT '',
        internal_ext TEXT NOT NULL DEFAULT '',
        push_server TEXT NOT NULL DEFAULT '',
        last_msg_id INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        room_id INTEGER NOT NULL,
        msg_id TEXT NOT NULL,
        method TEXT NOT NULL,
        raw BLOB NOT NULL,
        error TEXT NOT NULL,
        stored_at INTEGER NOT NULL
    );
    CREATE INDEX quarantine_room ON quarantine (room_id, id);
    """,
    # 3: delivery outbox (consumer positions, dead letters) and webhooks
    """
    CREATE TABLE outbox_positions (
        consumer TEXT NOT NULL,
        room_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (consumer, room_id)
    ) WITHOUT ROWID;
    CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        consumer TEXT NOT NULL,
        room_id INTEGER NOT NULL,
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        count INTEGER NOT NULL,
        error TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        body BLOB NOT NULL
    );
    CREATE INDEX dead_letters_consumer ON dead_letters (consumer, id);
    CREATE TABLE webhooks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        token_id INTEGER NOT NULL,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        rooms TEXT NOT NULL,
        methods TEXT NOT NULL,
        batch_size INTEGER NOT NULL,
        batch_ms INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        paused_at INTEGER NOT NULL DEFAULT 0,
        pause_reason TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX webhooks_token ON webhooks (token_id);
    """,
    # 4: broadcasts (sessions) with the analytics checkpoint and the finished report
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        room_id INTEGER NOT NULL UNIQUE,
        web_rid TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL DEFAULT '',
        anchor TEXT NOT NULL DEFAULT '',
        started_at INTEGER NOT NULL DEFAULT 0,
        ended_at INTEGER NOT NULL DEFAULT 0,
        last_seq INTEGER NOT NULL DEFAULT 0,
        state BLOB NOT NULL DEFAULT x'',
        report BLOB NOT NULL DEFAULT x'',
        updated_at INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX sessions_web_rid ON sessions (web_rid, started_at);
    """,
    # 5: page reads come from one covering index: a room's rows sit together in seq order with
    # everything a page needs (no table look-up per row); it replaces events_room_seq (a prefix)
    """
    CREATE INDEX events_room_page
        ON events (room_id, seq, msg_id, method, created_at, stored_at, rendered);
    DROP INDEX events_room_seq;
    """,
    # 6: token names are unique among active tokens (older duplicates get " #<id>" appended)
    """
    UPDATE tokens SET name = name || ' #' || id WHERE revoked_at = 0 AND id NOT IN
        (SELECT MIN(id) FROM tokens WHERE revoked_at = 0 GROUP BY name);
    CREATE UNIQUE INDEX tokens_active_name ON tokens (name) WHERE revoked_at = 0;
    """,
    # 7: the fleet's node registry, room leases and token room use (dylive.fleet, PostgreSQL
    # only; present here so both backends keep one schema and one fencing check)
    """
    CREATE TABLE fleet_nodes (
        node_id TEXT PRIMARY KEY,
        address TEXT NOT NULL DEFAULT '',
        version TEXT NOT NULL DEFAULT '',
        capacity INTEGER NOT NULL DEFAULT 0,
        started_at INTEGER NOT NULL DEFAULT 0,
        heartbeat_at INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'up'
    ) WITHOUT ROWID;
    CREATE TABLE fleet_rooms (
        room_id INTEGER PRIMARY KEY,
        ident TEXT NOT NULL DEFAULT '',
        pinned INTEGER NOT NULL DEFAULT 0,
        wanted_until INTEGER NOT NULL DEFAULT 0,
        owner TEXT NOT NULL DEFAULT '',
        epoch INTEGER NOT NULL DEFAULT 0,
        expires_at INTEGER NOT NULL DEFAULT 0,
        lag_ms INTEGER NOT NULL DEFAULT -1,
        rate REAL NOT NULL DEFAULT 0,
        stored INTEGER NOT NULL DEFAULT 0,
        error TEXT NOT NULL DEFAULT '',
        updated_at INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX fleet_rooms_owner ON fleet_rooms (owner);
    CREATE TABLE fleet_token_rooms (
        token_id INTEGER NOT NULL,
        room_id INTEGER NOT NULL,
        seen_at INTEGER NOT NULL,
        PRIMARY KEY (token_id, room_id)
    ) WITHOUT ROWID;
    """,
    # 8: identities: cookie + proxy + user agent, bound; health (issue 14)
    """
    CREATE TABLE identities (
        name TEXT PRIMARY KEY,
        cookie TEXT NOT NULL,
        proxy TEXT NOT NULL DEFAULT '',
        user_agent TEXT NOT NULL DEFAULT '',
        max_rooms INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'ok',
        cooldown_until INTEGER NOT NULL DEFAULT 0,
        strikes INTEGER NOT NULL DEFAULT 0,
        note TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID;
    """,
    # 9: a webhook's rotated-out secret and the end of its grace period (issue 23)
    """
    ALTER TABLE webhooks ADD COLUMN previous_secret TEXT NOT NULL DEFAULT '';
    ALTER TABLE webhooks ADD COLUMN previous_until INTEGER NOT NULL DEFAULT 0;
    """,
    # 10: the quarantine accepts any bytes: method and error are stored as bytes (UTF-8 with
    # surrogates passed through), so a poison message whose method name holds a NUL is kept
    """
    CREATE TABLE quarantine_bytes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        room_id INTEGER NOT NULL,
        msg_id TEXT NOT NULL,
        method BLOB NOT NULL,
        raw BLOB NOT NULL,
        error BLOB NOT NULL,
        stored_at INTEGER NOT NULL
    );
    INSERT INTO quarantine_bytes (id, room_id, msg_id, method, raw, error, stored_at)
        SELECT id, room_id, msg_id, CAST(method AS BLOB), raw, CAST(error AS BLOB), stored_at
        FROM quarantine;
    DROP TABLE quarantine;
    ALTER TABLE quarantine_bytes RENAME TO quarantine;
    CREATE INDEX quarantine_room ON quarantine (room_id, id);
    """,
    # 11: usage metering, plans and the admin audit log (issue 23): token expiry and quotas,
    # hourly usage counters per token/endpoint/code (additive: each node adds its own), the
    # rooms a token used per hour, the admin audit log
    """
    ALTER TABLE tokens ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tokens ADD COLUMN requests_per_day INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tokens ADD COLUMN requests_per_month INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tokens ADD COLUMN messages_per_day INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tokens ADD COLUMN messages_per_month INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE token_usage (
        token_id INTEGER NOT NULL,
        hour INTEGER NOT NULL,
        endpoint TEXT NOT NULL,
        code INTEGER NOT NULL,
        requests INTEGER NOT NULL DEFAULT 0,
        messages INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (token_id, hour, endpoint, code)
    ) WITHOUT ROWID;
    CREATE INDEX token_usage_hour ON token_usage (hour);
    CREATE TABLE token_usage_rooms (
        token_id INTEGER NOT NULL,
        hour INTEGER NOT NULL,
        room_id INTEGER NOT NULL,
        PRIMARY KEY (token_id, hour, room_id)
    ) WITHOUT ROWID;
    CREATE TABLE admin_audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL DEFAULT '',
        code INTEGER NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    """,
    # 12: a counter that moves with every change to the tokens table (by any connection, in any
    # process): the service's token cache checks it instead of PRAGMA data_version, which moves
    # with every commit (of messages too: a token read per request while rooms are collected)
    """
    CREATE TABLE token_generation (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        n INTEGER NOT NULL
    );
    INSERT INTO token_generation (id, n) VALUES (1, 0);
    CREATE TRIGGER token_generation_insert AFTER INSERT ON tokens
    BEGIN UPDATE token_generation SET n = n + 1 WHERE id = 1; END;
    CREATE TRIGGER token_generation_update AFTER UPDATE ON tokens
    BEGIN UPDATE token_generation SET n = n + 1 WHERE id = 1; END;
    CREATE TRIGGER token_generation_delete AFTER DELETE ON tokens
    BEGIN UPDATE token_generation SET n = n + 1 WHERE id = 1; END;
    """,
)

POSTGRES: tuple[str, ...] = (
    """
    CREATE TABLE events (
        seq BIGSERIAL PRIMARY KEY,
        room_id BIGINT NOT NULL,
        msg_id BIGINT NOT NULL,
        method TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        stored_at BIGINT NOT NULL,
        rendered BYTEA NOT NULL,
        raw BYTEA NOT NULL,
        UNIQUE (room_id, msg_id)
    );
    CREATE INDEX events_room_seq ON events (room_id, seq);
    CREATE TABLE rooms (
        room_id BIGINT PRIMARY KEY,
        web_rid TEXT NOT NULL DEFAULT '',
        status INTEGER NOT NULL DEFAULT 0,
        anchor_uid BIGINT NOT NULL DEFAULT 0,
        anchor_sec_uid TEXT NOT NULL DEFAULT '',
        anchor_nickname TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL DEFAULT '',
        updated_at BIGINT NOT NULL DEFAULT 0
    );
    CREATE INDEX rooms_web_rid ON rooms (web_rid, updated_at);
    CREATE TABLE tokens (
        id BIGSERIAL PRIMARY KEY,
        name TEXT NOT NULL,
        digest TEXT NOT NULL UNIQUE,
        room_limit INTEGER NOT NULL DEFAULT 0,
        rate DOUBLE PRECISION NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE positions (
        token_id BIGINT NOT NULL,
        room_id BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        PRIMARY KEY (token_id, room_id)
    );
    CREATE TABLE pins (ident TEXT PRIMARY KEY);
    """,
    # 2: per-room upstream position (stored with each batch); quarantined (poison) messages
    """
    CREATE TABLE upstream_positions (
        room_id BIGINT PRIMARY KEY,
        transport TEXT NOT NULL DEFAULT '',
        cursor TEXT NOT NULL DEFAULT '',
        internal_ext TEXT NOT NULL DEFAULT '',
        push_server TEXT NOT NULL DEFAULT '',
        last_msg_id BIGINT NOT NULL DEFAULT 0,
        updated_at BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE quarantine (
        id BIGSERIAL PRIMARY KEY,
        room_id BIGINT NOT NULL,
        msg_id TEXT NOT NULL,
        method TEXT NOT NULL,
        raw BYTEA NOT NULL,
        error TEXT NOT NULL,
        stored_at BIGINT NOT NULL
    );
    CREATE INDEX quarantine_room ON quarantine (room_id, id);
    """,
    # 3: delivery outbox (consumer positions, dead letters) and webhooks
    """
    CREATE TABLE outbox_positions (
        consumer TEXT NOT NULL,
        room_id BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (consumer, room_id)
    );
    CREATE TABLE dead_letters (
        id BIGSERIAL PRIMARY KEY,
        consumer TEXT NOT NULL,
        room_id BIGINT NOT NULL,
        first_seq BIGINT NOT NULL,
        last_seq BIGINT NOT NULL,
        count INTEGER NOT NULL,
        error TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        created_at BIGINT NOT NULL,
        body BYTEA NOT NULL
    );
    CREATE INDEX dead_letters_consumer ON dead_letters (consumer, id);
    CREATE TABLE webhooks (
        id BIGSERIAL PRIMARY KEY,
        token_id BIGINT NOT NULL,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        rooms TEXT NOT NULL,
        methods TEXT NOT NULL,
        batch_size INTEGER NOT NULL,
        batch_ms INTEGER NOT NULL,
        created_at BIGINT NOT NULL,
        paused_at BIGINT NOT NULL DEFAULT 0,
        pause_reason TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX webhooks_token ON webhooks (token_id);
    """,
    """
    CREATE TABLE sessions (
        id BIGSERIAL PRIMARY KEY,
        room_id BIGINT NOT NULL UNIQUE,
        web_rid TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL DEFAULT '',
        anchor TEXT NOT NULL DEFAULT '',
        started_at BIGINT NOT NULL DEFAULT 0,
        ended_at BIGINT NOT NULL DEFAULT 0,
        last_seq BIGINT NOT NULL DEFAULT 0,
        state BYTEA NOT NULL DEFAULT '',
        report BYTEA NOT NULL DEFAULT '',
        updated_at BIGINT NOT NULL DEFAULT 0
    );
    CREATE INDEX sessions_web_rid ON sessions (web_rid, started_at);
    """,
    # 5: token names are unique among active tokens (older duplicates get " #<id>" appended)
    """
    UPDATE tokens SET name = name || ' #' || id::text WHERE revoked_at = 0 AND id NOT IN
        (SELECT MIN(id) FROM tokens WHERE revoked_at = 0 GROUP BY name);
    CREATE UNIQUE INDEX tokens_active_name ON tokens (name) WHERE revoked_at = 0;
    """,
    """
    CREATE TABLE fleet_nodes (
        node_id TEXT PRIMARY KEY,
        address TEXT NOT NULL DEFAULT '',
        version TEXT NOT NULL DEFAULT '',
        capacity INTEGER NOT NULL DEFAULT 0,
        started_at BIGINT NOT NULL DEFAULT 0,
        heartbeat_at BIGINT NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'up'
    );
    CREATE TABLE fleet_rooms (
        room_id BIGINT PRIMARY KEY,
        ident TEXT NOT NULL DEFAULT '',
        pinned BOOLEAN NOT NULL DEFAULT false,
        wanted_until BIGINT NOT NULL DEFAULT 0,
        owner TEXT NOT NULL DEFAULT '',
        epoch BIGINT NOT NULL DEFAULT 0,
        expires_at BIGINT NOT NULL DEFAULT 0,
        lag_ms BIGINT NOT NULL DEFAULT -1,
        rate DOUBLE PRECISION NOT NULL DEFAULT 0,
        stored BIGINT NOT NULL DEFAULT 0,
        error TEXT NOT NULL DEFAULT '',
        updated_at BIGINT NOT NULL DEFAULT 0
    );
    CREATE INDEX fleet_rooms_owner ON fleet_rooms (owner);
    CREATE TABLE fleet_token_rooms (
        token_id BIGINT NOT NULL,
        room_id BIGINT NOT NULL,
        seen_at BIGINT NOT NULL,
        PRIMARY KEY (token_id, room_id)
    );
    """,
    # 7: identities: cookie + proxy + user agent, bound; health (issue 14)
    """
    CREATE TABLE identities (
        name TEXT PRIMARY KEY,
        cookie TEXT NOT NULL,
        proxy TEXT NOT NULL DEFAULT '',
        user_agent TEXT NOT NULL DEFAULT '',
        max_rooms INTEGER NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        state TEXT NOT NULL DEFAULT 'ok',
        cooldown_until BIGINT NOT NULL DEFAULT 0,
        strikes INTEGER NOT NULL DEFAULT 0,
        note TEXT NOT NULL DEFAULT ''
    );
    """,
    # 8: a lease's owner and epoch are key columns of fleet_rooms (a unique index holds them):
    # writers share-lock their lease rows FOR KEY SHARE, which a takeover or release (changing
    # owner/epoch: a key update, FOR UPDATE) waits for, but a renewal (expiry and stats only:
    # FOR NO KEY UPDATE) does not
    """
    CREATE UNIQUE INDEX fleet_rooms_lease ON fleet_rooms (room_id, owner, epoch);
    """,
    # 9: a webhook's rotated-out secret and the end of its grace period (issue 23)
    """
    ALTER TABLE webhooks ADD COLUMN previous_secret TEXT NOT NULL DEFAULT '';
    ALTER TABLE webhooks ADD COLUMN previous_until BIGINT NOT NULL DEFAULT 0;
    """,
    # 10: the quarantine accepts any bytes (PostgreSQL text cannot hold NUL): method and error
    # are stored as bytes (UTF-8 with surrogates passed through)
    """
    ALTER TABLE quarantine
        ALTER COLUMN method TYPE BYTEA USING convert_to(method, 'UTF8'),
        ALTER COLUMN error TYPE BYTEA USING convert_to(error, 'UTF8');
    """,
    # 11: usage metering, plans and the admin audit log (issue 23; see the SQLite step)
    """
    ALTER TABLE tokens ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE tokens ADD COLUMN requests_per_day BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE tokens ADD COLUMN requests_per_month BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE tokens ADD COLUMN messages_per_day BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE tokens ADD COLUMN messages_per_month BIGINT NOT NULL DEFAULT 0;
    CREATE TABLE token_usage (
        token_id BIGINT NOT NULL,
        hour BIGINT NOT NULL,
        endpoint TEXT NOT NULL,
        code INTEGER NOT NULL,
        requests BIGINT NOT NULL DEFAULT 0,
        messages BIGINT NOT NULL DEFAULT 0,
        bytes BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (token_id, hour, endpoint, code)
    );
    CREATE INDEX token_usage_hour ON token_usage (hour);
    CREATE TABLE token_usage_rooms (
        token_id BIGINT NOT NULL,
        hour BIGINT NOT NULL,
        room_id BIGINT NOT NULL,
        PRIMARY KEY (token_id, hour, room_id)
    );
    CREATE TABLE admin_audit (
        id BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL DEFAULT '',
        code INTEGER NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    """,
)

#: 64-bit unsigned ids (msg_id, room_id) are stored as signed BIGINT.
_U64 = 1 << 64
_I64_MAX = (1 << 63) - 1


def to_signed(value: int) -> int:
    """Map an unsigned 64-bit id onto the signed column range (identity below 2^63)."""
    return value - _U64 if value > _I64_MAX else value


def to_unsigned(value: int) -> int:
    """Inverse of :func:`to_signed`."""
    return value + _U64 if value < 0 else value
