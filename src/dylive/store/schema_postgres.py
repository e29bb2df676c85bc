"""The PostgreSQL store's schema migrations, applied in order (the ``dylive_schema`` table records
how many have run; see :mod:`dylive.store.migrations`).

Append new steps at the end; never edit a released one.
"""

from __future__ import annotations

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
    # 12: indexes for retention's batched deletes (see the SQLite step 13)
    """
    CREATE INDEX token_usage_rooms_hour ON token_usage_rooms (hour);
    CREATE INDEX admin_audit_at ON admin_audit (at);
    """,
    # 13: a session's checkpoint in parts (see the SQLite step 14)
    """
    CREATE TABLE session_parts (
        session_id BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        part BYTEA NOT NULL,
        PRIMARY KEY (session_id, seq)
    );
    """,
)
