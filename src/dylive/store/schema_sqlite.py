"""The SQLite store's schema migrations, applied in order (``PRAGMA user_version`` records how many
have run; see :mod:`dylive.store.migrations`).

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
    # 13: retention deletes usage counters and room uses by hour and audit entries by time
    # (``usage_retention_days``, ``audit_retention_days``): an index on each so that a batch
    # reads only what it deletes (token_usage has one on hour since step 11)
    """
    CREATE INDEX token_usage_rooms_hour ON token_usage_rooms (hour);
    CREATE INDEX admin_audit_at ON admin_audit (at);
    """,
    # 14: a session's checkpoint in parts: what grows with the session (its chatters, gifters and
    # ranked users) is appended as one part per checkpoint (what changed since the previous one),
    # in the transaction that moves ``sessions.last_seq``, instead of rewritten in ``state``
    """
    CREATE TABLE session_parts (
        session_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        part BLOB NOT NULL,
        PRIMARY KEY (session_id, seq)
    );
    """,
    # 15: page reads by a narrow (room_id, seq) index and the table's rows (by seq), instead of
    # the covering index of step 5: its ~600-byte cells (the rendered JSON) made every append
    # rewrite and split leaves in the middle of a room-ordered b-tree, 1.7 of the 2.9 WAL frames
    # a stored row wrote (bench/writer.py --frames). secure_delete=FAST (restored by the engine
    # after the migrations): with it ON, dropping the index wrote every freed page, zeroed, into
    # the WAL (190 MB of WAL for 300,000 rows, against 6 MB)
    """
    PRAGMA secure_delete=FAST;
    CREATE INDEX events_room_seq ON events (room_id, seq);
    DROP INDEX events_room_page;
    """,
    # 16: the de-duplication key in time order: Douyin's msg_ids grow with time (unix seconds in
    # the high bits), so (msg_id, room_id) takes each commit's rows at the right edge of the
    # b-tree instead of a leaf per room in the middle of it: 0.53 -> 0.05 WAL frames a stored row
    # with 200,000 rows of history (bench/writer.py --frames). The same constraint; no reads use it
    """
    PRAGMA secure_delete=FAST;
    CREATE UNIQUE INDEX events_msg_room ON events (msg_id, room_id);
    DROP INDEX events_room_msg;
    """,
)
