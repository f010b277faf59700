-- Anxin database schema: the one source of truth for the tables.
--
-- Idempotent: applying it twice is no error and no change. It decides at apply time
-- whether TimescaleDB is there (available AND preloaded): then `vitals`, `events`,
-- `locations` and `device_status` become hypertables; otherwise they stay plain
-- tables with BRIN indexes on time (the embedded demo's path).

SELECT pg_advisory_xact_lock(7268353);  -- two instances starting at once apply it in turn

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
       AND current_setting('shared_preload_libraries') LIKE '%timescaledb%' THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
    END IF;
END
$$;

-- People and things ----------------------------------------------------------------

CREATE TABLE IF NOT EXISTS residents (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    name        text NOT NULL,
    home_lat    double precision CHECK (home_lat BETWEEN -90 AND 90),
    home_lon    double precision CHECK (home_lon BETWEEN -180 AND 180),
    address     text,
    -- clinical and care flags the detectors read, e.g. 'hypercapnic', 'dementia'
    flags       text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- the running detector re-reads residents changed since its last look
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS devices (
    id                  text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    kind                text NOT NULL,
    resident_id         text REFERENCES residents (id),
    expected_interval_s integer CHECK (expected_interval_s > 0),
    registered_at       timestamptz NOT NULL DEFAULT now(),
    -- when the device last sent more than ingest's rate limit lets through (a fault or
    -- a misconfigured firmware to look into); see dead_letters for how many
    over_limit_at       timestamptz
);
CREATE INDEX IF NOT EXISTS devices_resident ON devices (resident_id);

CREATE TABLE IF NOT EXISTS service_points (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    name        text NOT NULL,
    -- 'complex' (street-level service complex) or 'station' (community service station)
    kind        text NOT NULL,
    lat         double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon         double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    address     text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Time series ----------------------------------------------------------------------
-- Every unique index includes `ts` because TimescaleDB requires the partitioning
-- column in it; a redelivered message repeats its ts, so the key still deduplicates.

CREATE TABLE IF NOT EXISTS vitals (
    ts          timestamptz NOT NULL,
    device_id   text NOT NULL,
    seq         bigint,
    hr          real,
    spo2        real,
    temp        real,
    sbp         real,
    dbp         real,
    rr          real,
    steps       integer,
    battery     real
);
CREATE UNIQUE INDEX IF NOT EXISTS vitals_dedup ON vitals (device_id, ts, seq) NULLS NOT DISTINCT;

CREATE TABLE IF NOT EXISTS events (
    ts          timestamptz NOT NULL,
    device_id   text NOT NULL,
    type        text NOT NULL,
    -- the device's event id, else 'seq:N', else the type: what makes a press unique
    event_key   text NOT NULL,
    seq         bigint,
    data        jsonb
);
CREATE UNIQUE INDEX IF NOT EXISTS events_dedup ON events (device_id, ts, event_key);

CREATE TABLE IF NOT EXISTS locations (
    ts          timestamptz NOT NULL,
    device_id   text NOT NULL,
    seq         bigint,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    acc         real
);
CREATE UNIQUE INDEX IF NOT EXISTS locations_dedup ON locations (device_id, ts, seq) NULLS NOT DISTINCT;

CREATE TABLE IF NOT EXISTS device_status (
    ts          timestamptz NOT NULL,
    device_id   text NOT NULL,
    online      boolean,
    battery     real,
    rssi        integer,
    fw          text
);
CREATE UNIQUE INDEX IF NOT EXISTS device_status_dedup ON device_status (device_id, ts);

DO $$
DECLARE
    t text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        FOREACH t IN ARRAY ARRAY['vitals', 'events', 'locations', 'device_status'] LOOP
            PERFORM create_hypertable(t::regclass, by_range('ts', INTERVAL '1 day'),
                                      if_not_exists => TRUE, migrate_data => TRUE);
        END LOOP;
    ELSE
        FOREACH t IN ARRAY ARRAY['vitals', 'events', 'locations', 'device_status'] LOOP
            EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I USING brin (ts)',
                           t || '_ts_brin', t);
        END LOOP;
    END IF;
END
$$;

-- Alerts ---------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS alerts (
    id          bigserial PRIMARY KEY,
    opened_at   timestamptz NOT NULL DEFAULT now(),
    -- when the condition was observed on the device
    observed_at timestamptz NOT NULL,
    device_id   text NOT NULL REFERENCES devices (id),
    resident_id text REFERENCES residents (id),
    rule        text NOT NULL,
    severity    text NOT NULL CHECK (severity IN ('P1', 'P2', 'P3')),
    status      text NOT NULL DEFAULT 'open',
    reason      text NOT NULL,
    -- one alert per device and cause (e.g. per SOS press): redeliveries hit this key
    dedup_key   text NOT NULL UNIQUE,
    data        jsonb
);
CREATE INDEX IF NOT EXISTS alerts_open ON alerts (opened_at DESC) WHERE status <> 'resolved';

-- What the detector keeps -----------------------------------------------------------

-- Per-resident detector settings, validated by alerts.detect.config.Overrides; set
-- with `anxin residents overrides RID key=value`.
CREATE TABLE IF NOT EXISTS resident_overrides (
    resident_id text PRIMARY KEY REFERENCES residents (id) ON DELETE CASCADE,
    settings    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A snapshot of what the detector learned per device, saved every few minutes and
-- on shutdown, so a restart keeps personal baselines and notices a device that went
-- silent while the service was down.
CREATE TABLE IF NOT EXISTS detector_state (
    device_id   text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    last_seen   timestamptz,
    -- per metric in the order hr, spo2, temp, sbp, rr: EWMA mean, variance, readings
    base_mean   real[] NOT NULL,
    base_var    real[] NOT NULL,
    base_n      real[] NOT NULL,
    saved_at    timestamptz NOT NULL DEFAULT now()
);

-- What ingest could not take ------------------------------------------------------

CREATE TABLE IF NOT EXISTS dead_letters (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text NOT NULL,
    payload     bytea NOT NULL,
    reason      text NOT NULL,
    device_id   text,
    -- a summary row (a device over its rate limit) stands for this many messages,
    -- received from received_at to last_at; its payload is the first of them
    messages    bigint NOT NULL DEFAULT 1 CHECK (messages > 0),
    last_at     timestamptz
);
CREATE INDEX IF NOT EXISTS dead_letters_received ON dead_letters (received_at DESC);

-- Upgrades of databases made by earlier versions ----------------------------------

ALTER TABLE devices ADD COLUMN IF NOT EXISTS over_limit_at timestamptz;
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS messages bigint NOT NULL DEFAULT 1
    CHECK (messages > 0);
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS last_at timestamptz;
