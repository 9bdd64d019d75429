/* The SQLite schema, one migration per schema version (PRAGMA user_version). */
#ifndef NUDGE_STORE_SCHEMA_H
#define NUDGE_STORE_SCHEMA_H

static const char *const store_migrations[] = {
    /* version 1 */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE profiles ("
    "  id TEXT PRIMARY KEY, traits TEXT NOT NULL DEFAULT '{}') WITHOUT ROWID;"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY, message_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,"
    "  name TEXT, profile_id TEXT NOT NULL, user_id TEXT, anonymous_id TEXT,"
    "  ts_ms INTEGER NOT NULL, body TEXT NOT NULL);"
    "CREATE INDEX events_by_profile ON events (profile_id, ts_ms);"
    "CREATE TABLE recipe_versions ("
    "  hash TEXT PRIMARY KEY, name TEXT NOT NULL, path TEXT NOT NULL,"
    "  source TEXT NOT NULL, first_loaded_ms INTEGER NOT NULL) WITHOUT ROWID;"
    /* trigger_event: the events row that started it (its body is j.trigger) */
    "CREATE TABLE instances ("
    "  id INTEGER PRIMARY KEY, journey TEXT NOT NULL, version TEXT NOT NULL,"
    "  profile_id TEXT NOT NULL, state INTEGER NOT NULL, holdout INTEGER NOT NULL,"
    "  started_ms INTEGER NOT NULL, ended_ms INTEGER NOT NULL DEFAULT 0,"
    "  goal_ms INTEGER NOT NULL DEFAULT 0, steps INTEGER NOT NULL DEFAULT 0,"
    "  pending_kind TEXT, pending_event TEXT,"
    "  pending_due_ms INTEGER NOT NULL DEFAULT 0, pending_line INTEGER NOT NULL DEFAULT "
    "0,"
    "  exit_reason TEXT, error TEXT, trigger_event INTEGER NOT NULL);"
    "CREATE INDEX instances_live ON instances (profile_id) WHERE state < 2;"
    "CREATE INDEX instances_by_journey ON instances (journey, profile_id, started_ms);"
    "CREATE TABLE history ("
    "  instance_id INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,"
    "  result TEXT NOT NULL, PRIMARY KEY (instance_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE timers ("
    "  due_ms INTEGER NOT NULL, instance_id INTEGER NOT NULL,"
    "  PRIMARY KEY (due_ms, instance_id)) WITHOUT ROWID;"
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE,"
    "  instance_id INTEGER NOT NULL, journey TEXT NOT NULL, profile_id TEXT NOT NULL,"
    "  channel TEXT NOT NULL, template TEXT NOT NULL, vars TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'queued',"
    "  updated_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX outbox_by_status ON outbox (status, id);"
    "CREATE TABLE message_log ("
    "  id INTEGER PRIMARY KEY, instance_id INTEGER, profile_id TEXT NOT NULL,"
    "  journey TEXT, channel TEXT NOT NULL, template TEXT, outcome TEXT NOT NULL,"
    "  reason TEXT, at_ms INTEGER NOT NULL);"
    "CREATE INDEX message_log_by_profile ON message_log (profile_id, at_ms);",
    /* version 2: identity, PII encrypted at rest, computed traits from the
     * events index (by name: counts and last times without reading rows) */
    "ALTER TABLE events ADD COLUMN revenue REAL;"
    "UPDATE events SET revenue = coalesce(json_extract(body, '$.properties.revenue'),"
    "  json_extract(body, '$.properties.total')) WHERE name = 'Order Completed';"
    "DROP INDEX events_by_profile;"
    "CREATE INDEX events_by_profile ON events (profile_id, name, ts_ms);"
    /* secrets sealed by the master key: the blind-index key */
    "CREATE TABLE secrets (name TEXT PRIMARY KEY, sealed BLOB NOT NULL) WITHOUT ROWID;"
    /* per profile: its data key sealed by the master key, its PII fields
     * as one encrypted JSON object, and the blind indexes of its email and
     * phone (docs/profiles.md) */
    "ALTER TABLE profiles ADD COLUMN sealed_key BLOB;"
    "ALTER TABLE profiles ADD COLUMN pii BLOB;"
    "ALTER TABLE profiles ADD COLUMN email_blind BLOB;"
    "ALTER TABLE profiles ADD COLUMN phone_blind BLOB;"
    "CREATE INDEX profiles_by_email ON profiles (email_blind) WHERE email_blind NOT NULL;"
    "CREATE INDEX profiles_by_phone ON profiles (phone_blind) WHERE phone_blind NOT NULL;"
    "CREATE TABLE suppressions ("
    "  kind TEXT NOT NULL, digest BLOB NOT NULL, reason TEXT NOT NULL,"
    "  at_ms INTEGER NOT NULL, PRIMARY KEY (kind, digest)) WITHOUT ROWID;"
    "CREATE TABLE identities ("
    "  anonymous_id TEXT PRIMARY KEY, profile_id TEXT NOT NULL,"
    "  at_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX identities_by_profile ON identities (profile_id);"
    "CREATE TABLE merges ("
    "  from_id TEXT NOT NULL, into_id TEXT NOT NULL, at_ms INTEGER NOT NULL,"
    "  detail TEXT NOT NULL);",
    /* version 3: guardrails.  The consent ledger is append-only: a record
     * may move to another profile (merge) or be erased (forget), never
     * change. */
    "CREATE TABLE consent ("
    "  id INTEGER PRIMARY KEY, profile_id TEXT NOT NULL, channel TEXT NOT NULL,"
    "  purpose TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('granted', "
    "'revoked')),"
    "  at_ms INTEGER NOT NULL, source TEXT NOT NULL, proof TEXT);"
    "CREATE INDEX consent_by_profile ON consent (profile_id, channel, purpose, at_ms, "
    "id);"
    "CREATE TRIGGER consent_append_only BEFORE UPDATE OF channel, purpose, status, at_ms,"
    "  source, proof ON consent BEGIN"
    "  SELECT RAISE(ABORT, 'consent records are append-only'); END;"
    /* a message's purpose, and the time a deferral (quiet hours) holds it to */
    "ALTER TABLE outbox ADD COLUMN purpose TEXT NOT NULL DEFAULT 'marketing';"
    "ALTER TABLE outbox ADD COLUMN not_before_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE message_log ADD COLUMN detail TEXT;",
    /* version 4: delivery by the senders.  A message may wait for another
     * try (status 'retry' until retry_at_ms, wall time) or end as a dead
     * letter ('failed'); response keeps the provider's last answer. */
    "ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE outbox ADD COLUMN retry_at_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE outbox ADD COLUMN response TEXT;"
    /* a recipe version's own templates (journey{ templates = ... }), JSON */
    "ALTER TABLE recipe_versions ADD COLUMN templates TEXT;",
    /* version 5: the latest consent record answered from the index alone
     * (status in it), at queue and again at delivery */
    "CREATE INDEX consent_latest ON consent (profile_id, channel, purpose, at_ms, id,"
    "  status);"
    "DROP INDEX consent_by_profile;",
};

#define STORE_MIGRATION_COUNT (int)(sizeof store_migrations / sizeof store_migrations[0])

#endif
