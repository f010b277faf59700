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
    -- what an operator needs on the phone (devices.models.ResidentIn says what each is)
    phone         text,
    birth_date    date,
    district      text,
    community     text,
    medical_notes text,
    allergies     text,
    mobility      text,
    access_notes  text,
    language      text,
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

-- Emergency contacts in the order to call them.
CREATE TABLE IF NOT EXISTS resident_contacts (
    resident_id text NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    position    smallint NOT NULL CHECK (position >= 1),
    name        text NOT NULL,
    relation    text,
    phone       text NOT NULL,
    -- may they receive SMS about this resident
    sms         boolean NOT NULL DEFAULT true,
    PRIMARY KEY (resident_id, position)
);
CREATE INDEX IF NOT EXISTS resident_contacts_phone ON resident_contacts (phone);

-- People who use the API. A token is 'anx_<token_id>_<secret>'; only an argon2 hash of
-- it is kept. Roles and scopes: devices.accounts.
CREATE TABLE IF NOT EXISTS users (
    name             text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    role             text NOT NULL CHECK (role IN ('operator', 'supervisor', 'admin',
                                                   'service_point', 'caregiver')),
    -- operators and supervisors limited to these districts; empty: all of them
    districts        text[] NOT NULL DEFAULT '{}',
    -- a service_point user's own point (dispatch.service_points.id)
    service_point_id text,
    -- a caregiver's phone: they see the residents who list it as a contact
    phone            text,
    language         text NOT NULL DEFAULT 'zh-CN' CHECK (language IN ('zh-CN', 'en')),
    token_id         text NOT NULL UNIQUE,
    token_hash       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    disabled_at      timestamptz
);

CREATE TABLE IF NOT EXISTS service_points (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    name        text NOT NULL,
    -- dispatch.models.PointKind: complex, station, health_centre, care_home
    kind        text NOT NULL,
    lat         double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon         double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    address     text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    district    text,
    -- dispatch.models.Capability: emergency, medical, nursing, meal, bath, cleaning,
    -- escort, 24h
    capabilities text[] NOT NULL DEFAULT '{}',
    -- dispatch.models.WeekHours: per weekday, [start, end) minutes from midnight
    hours       jsonb,
    capacity    integer NOT NULL DEFAULT 2 CHECK (capacity >= 0),
    accept_within_s integer NOT NULL DEFAULT 180 CHECK (accept_within_s > 0)
);

-- Who a service point sends, and when they are on shift.
CREATE TABLE IF NOT EXISTS service_point_staff (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    point_id    text NOT NULL REFERENCES service_points (id) ON DELETE CASCADE,
    name        text NOT NULL,
    phone       text NOT NULL,
    channels    text[] NOT NULL DEFAULT '{sms}',
    shifts      jsonb NOT NULL,
    on_call     boolean NOT NULL DEFAULT true
);
CREATE INDEX IF NOT EXISTS service_point_staff_point ON service_point_staff (point_id);

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

-- An incident is what an operator works: one per resident (or unattached device) while
-- any of theirs is unresolved. Its alerts are the findings grouped under it. The
-- lifecycle (alerts.lifecycle) is the incident's; each alert's status follows it.
CREATE TABLE IF NOT EXISTS incidents (
    id               bigserial PRIMARY KEY,
    -- the resident's id, or 'device:<id>' for a device nobody wears
    subject          text NOT NULL,
    resident_id      text REFERENCES residents (id),
    device_id        text NOT NULL REFERENCES devices (id),
    district         text,
    opened_at        timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    severity         text NOT NULL CHECK (severity IN ('P1', 'P2', 'P3')),
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged',
                         'dispatched', 'on_scene', 'resolved', 'cancelled')),
    -- escalation is a level, not a status: 0 the operators' queue, then each step of
    -- the chain (settings: escalation_chain)
    escalation_level integer NOT NULL DEFAULT 0,
    -- when the next escalation is due; NULL once someone acknowledged (or it closed)
    escalate_at      timestamptz,
    acknowledged_at  timestamptz,
    dispatched_at    timestamptz,
    on_scene_at      timestamptz,
    closed_at        timestamptz,
    service_point_id text REFERENCES service_points (id),
    outcome          text CHECK (outcome IN ('assisted', 'false_alarm', 'no_response_visit',
                         'ambulance', 'hospital', 'deceased', 'other')),
    CHECK ((status = 'resolved') = (outcome IS NOT NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS incidents_one_active ON incidents (subject)
    WHERE status NOT IN ('resolved', 'cancelled');
CREATE INDEX IF NOT EXISTS incidents_due ON incidents (escalate_at) WHERE escalate_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS incidents_queue ON incidents (severity, opened_at, id)
    WHERE status NOT IN ('resolved', 'cancelled');
CREATE INDEX IF NOT EXISTS incidents_opened ON incidents (opened_at);

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
    -- the first finding's key; every finding's key is in alert_findings
    dedup_key   text NOT NULL UNIQUE,
    data        jsonb,
    incident_id bigint REFERENCES incidents (id),
    -- a repeat of the same finding while the incident is unresolved counts here
    count       integer NOT NULL DEFAULT 1,
    last_seen_at timestamptz,
    -- why, as a code and its values (alerts.reasons renders them per language; the
    -- latest finding's); `reason` above is the English, and all earlier versions had
    reason_code   text,
    reason_values jsonb
);
CREATE INDEX IF NOT EXISTS alerts_open ON alerts (opened_at DESC) WHERE status <> 'resolved';

-- One row per finding (a press, a reading over a threshold): a redelivered message
-- hits its key and changes nothing.
CREATE TABLE IF NOT EXISTS alert_findings (
    dedup_key   text PRIMARY KEY,
    alert_id    bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    observed_at timestamptz NOT NULL
);

-- Every change to an incident, who made it and why: its timeline, and the event log
-- the live stream replays from (ids are taken in commit order: alerts.audit).
CREATE TABLE IF NOT EXISTS alert_audit (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    incident_id bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    alert_id    bigint REFERENCES alerts (id) ON DELETE CASCADE,
    -- a user's name, or 'system' (detector, escalation)
    actor       text NOT NULL,
    action      text NOT NULL,
    from_status text,
    to_status   text,
    note        text,
    data        jsonb
);
CREATE INDEX IF NOT EXISTS alert_audit_incident ON alert_audit (incident_id, id);

-- Dispatch --------------------------------------------------------------------------

-- Each point asked to take an incident, and its answer (dispatch.offers). At most one
-- is waiting per incident; a decline, or no answer by `answer_by`, sends the incident
-- on to the next eligible point (alerts.dispatching).
CREATE TABLE IF NOT EXISTS dispatch_offers (
    id          bigserial PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    point_id    text NOT NULL REFERENCES service_points (id),
    -- travel minutes the router counted on; NULL when an operator chose the point
    minutes     real,
    status      text NOT NULL DEFAULT 'offered' CHECK (status IN ('offered', 'accepted',
                    'declined', 'expired', 'withdrawn')),
    offered_at  timestamptz NOT NULL DEFAULT now(),
    answer_by   timestamptz NOT NULL,
    answered_at timestamptz,
    answered_by text,
    -- the short code a reply by SMS must carry (many texts share one sender number)
    answer_code text,
    CHECK ((status = 'offered') = (answered_at IS NULL))
);
ALTER TABLE dispatch_offers ADD COLUMN IF NOT EXISTS answer_code text;
CREATE UNIQUE INDEX IF NOT EXISTS dispatch_offers_code ON dispatch_offers (answer_code)
    WHERE status = 'offered';
CREATE UNIQUE INDEX IF NOT EXISTS dispatch_offers_waiting ON dispatch_offers (incident_id)
    WHERE status = 'offered';
CREATE INDEX IF NOT EXISTS dispatch_offers_due ON dispatch_offers (answer_by)
    WHERE status = 'offered';
CREATE INDEX IF NOT EXISTS dispatch_offers_incident ON dispatch_offers (incident_id);

-- Notifications -------------------------------------------------------------------

-- Integrators' endpoints: each gets every change to an incident, signed (dispatch.notify).
CREATE TABLE IF NOT EXISTS webhooks (
    name       text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]{1,64}$'),
    url        text NOT NULL CHECK (url ~ '^https?://'),
    secret     text NOT NULL CHECK (length(secret) >= 16),
    enabled    boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Group chat robots (DingTalk custom robot, WeCom group robot): a point's duty group
-- hears its dispatches; a bot for supervisors hears escalations.
CREATE TABLE IF NOT EXISTS chat_bots (
    name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]{1,64}$'),
    kind        text NOT NULL CHECK (kind IN ('dingtalk', 'wecom')),
    -- the robot's webhook address, with its access_token (DingTalk) or key (WeCom)
    url         text NOT NULL CHECK (url ~ '^https?://'),
    -- DingTalk's signing secret (SEC...), when the robot is set to sign
    secret      text,
    point_id    text REFERENCES service_points (id) ON DELETE CASCADE,
    supervisors boolean NOT NULL DEFAULT false,
    lang        text NOT NULL DEFAULT 'zh-CN'
);

-- Secrets the service makes for itself once and every instance shares (the key that
-- signs responders' links).
CREATE TABLE IF NOT EXISTS app_secrets (
    name  text PRIMARY KEY,
    value text NOT NULL
);

-- The transactional outbox: written in the transaction of the change it tells of, sent
-- by a worker that claims rows with SKIP LOCKED for a lease; the id is the message's
-- idempotency key, so a crash between sending and recording repeats it at most once.
CREATE TABLE IF NOT EXISTS outbox (
    id          bigserial PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    incident_id bigint REFERENCES incidents (id) ON DELETE SET NULL,
    -- webhook, sms, wecom, dingtalk
    channel     text NOT NULL,
    -- a webhook's name, a phone number, a bot's name
    recipient   text NOT NULL,
    -- what to say; the channel renders it
    body        jsonb NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts    integer NOT NULL DEFAULT 0,
    -- when it may next be tried; while a worker holds it, the end of its lease
    due_at      timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    receipt     jsonb,
    last_error  text
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (due_at) WHERE status = 'pending';

-- Every delivery attempt and what the receiver answered.
CREATE TABLE IF NOT EXISTS outbox_attempts (
    id          bigserial PRIMARY KEY,
    outbox_id   bigint NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    worker      text NOT NULL,
    ok          boolean NOT NULL,
    status_code integer,
    error       text,
    receipt     jsonb,
    took_ms     real
);
CREATE INDEX IF NOT EXISTS outbox_attempts_message ON outbox_attempts (outbox_id);

-- How urgent a message is (0 first), set on insert from what it tells of, whichever
-- code queued it: about a P1 incident (an SOS, a fall, smoke, gas, CO) opening, being
-- dispatched or escalated, 0; a P2's, 1; anything else (a closing note, an unmatched
-- reply, a help request, a P3's), 5. Claims take the most urgent due message first, so
-- a backlog of routine ones never holds up an SOS.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS priority smallint NOT NULL DEFAULT 5;
CREATE INDEX IF NOT EXISTS outbox_claim ON outbox (priority, due_at, id) WHERE status = 'pending';

CREATE OR REPLACE FUNCTION outbox_priority() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.priority := CASE
        WHEN NEW.incident_id IS NULL
            OR NEW.body->>'template' IN ('family_resolved', 'reply_unmatched', 'help_request')
            OR NEW.body->>'event' IN ('incident.resolve', 'incident.cancel', 'incident.note')
            THEN 5
        ELSE coalesce((SELECT CASE severity WHEN 'P1' THEN 0 WHEN 'P2' THEN 1 ELSE 5 END
                       FROM incidents WHERE id = NEW.incident_id), 5)
    END;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER outbox_priority BEFORE INSERT ON outbox
    FOR EACH ROW EXECUTE FUNCTION outbox_priority();

-- The commit that queues a message wakes the senders (dispatch.notify.outbox's
-- NOTIFY_CHANNEL; PostgreSQL delivers it only if the transaction commits): the pickup
-- takes milliseconds, and the senders' poll is only a fallback.
CREATE OR REPLACE FUNCTION outbox_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('anxin_outbox', '');
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER outbox_queued AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_queued();

-- Delivery receipts (dispatch.notify.receipts): what the SMS provider reported of a
-- text it accepted, matched by our id (Alibaba's OutId) or its serial number
-- (Tencent's SerialNo, kept in `receipt`). A dispatch text to a point's staff that
-- failed, was reported undelivered, or is unconfirmed after ANXIN_SMS_DELIVERY_WAIT_S
-- is followed by the point's next staff member; followed_up_at marks it done.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS delivery text
    CHECK (delivery IN ('delivered', 'undelivered'));
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS delivery_report jsonb;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS delivery_reported_at timestamptz;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS followed_up_at timestamptz;
CREATE INDEX IF NOT EXISTS outbox_incident ON outbox (incident_id) WHERE incident_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS outbox_serial_no ON outbox ((receipt->>'SerialNo'))
    WHERE channel = 'sms';

-- One-key help (一键求助): a resident asks for an everyday service; routed like an
-- incident to the nearest point offering it, and never seen by the call centre
-- (dispatch.requests).
CREATE TABLE IF NOT EXISTS service_requests (
    id           bigserial PRIMARY KEY,
    -- the press: device, time and the device's event key; a redelivery asks once
    key          text NOT NULL UNIQUE,
    requested_at timestamptz NOT NULL,
    device_id    text NOT NULL REFERENCES devices (id),
    resident_id  text REFERENCES residents (id),
    -- devices.models.HelpService: meal, bath, cleaning, escort, medical, nursing
    service      text NOT NULL,
    lat          double precision,
    lon          double precision,
    status       text NOT NULL DEFAULT 'requested' CHECK (status IN ('requested',
                     'accepted', 'done', 'cancelled')),
    -- the point asked now; NULL when no point offering it can take it inside the circle
    point_id     text REFERENCES service_points (id),
    minutes      real,
    declined_by  text[] NOT NULL DEFAULT '{}',
    accepted_at  timestamptz,
    done_at      timestamptz,
    closed_at    timestamptz,
    -- each decision: the points considered and why each was skipped, answers
    history      jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS service_requests_point ON service_requests (point_id, requested_at DESC);

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
    -- in English, for a person reading SQL; the code and its values are the truth
    -- (ingest.refusals renders them in Chinese or English)
    reason      text NOT NULL,
    reason_code text,
    reason_values jsonb,
    device_id   text,
    -- a summary row (a device over its rate limit) stands for this many messages,
    -- received from received_at to last_at; its payload is the first of them
    messages    bigint NOT NULL DEFAULT 1 CHECK (messages > 0),
    last_at     timestamptz
);
CREATE INDEX IF NOT EXISTS dead_letters_received ON dead_letters (received_at DESC);

-- Upgrades of databases made by earlier versions ----------------------------------

ALTER TABLE devices ADD COLUMN IF NOT EXISTS over_limit_at timestamptz;
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS reason_code text;
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS reason_values jsonb;
-- How the device speaks (devices.models.Protocol): canonical MQTT, a "3G" watch through
-- the gateway, a Zigbee sensor through Zigbee2MQTT, a phone running OwnTracks. `name`
-- is what it calls itself there (a Zigbee2MQTT friendly name, OwnTracks' user/device).
-- `account`: the MQTT account that speaks for it (a home's Zigbee2MQTT speaks for all
-- of that home's sensors); NULL for a watch, whose gateway speaks for it.
ALTER TABLE devices ADD COLUMN IF NOT EXISTS protocol text NOT NULL DEFAULT 'canonical';
ALTER TABLE devices ADD COLUMN IF NOT EXISTS name text;
ALTER TABLE devices ADD COLUMN IF NOT EXISTS account text;
CREATE UNIQUE INDEX IF NOT EXISTS devices_name ON devices (protocol, name);

-- MQTT accounts of devices: the password only as Mosquitto's PBKDF2-SHA512 hash
-- ($7$iterations$salt$hash), shown once when made; `anxin devices export-mosquitto`
-- writes them, with what each may publish and read, into the broker's configuration.
CREATE TABLE IF NOT EXISTS mqtt_accounts (
    name          text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_-]{1,64}$'),
    password_hash text NOT NULL CHECK (password_hash LIKE '$7$%'),
    created_at    timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS messages bigint NOT NULL DEFAULT 1
    CHECK (messages > 0);
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS last_at timestamptz;
ALTER TABLE residents ADD COLUMN IF NOT EXISTS phone text;
ALTER TABLE residents ADD COLUMN IF NOT EXISTS birth_date date;
ALTER TABLE residents ADD COLUMN IF NOT EXISTS district text;
ALTER TABLE residents ADD COLUMN IF NOT EXISTS community text;
ALTER TABLE residents ADD COLUMN IF NOT EXISTS medical_notes text;
ALTER TABLE residents ADD COLUMN IF NOT EXISTS allergies text;
ALTER TABLE residents ADD COLUMN IF NOT EXISTS mobility text;
ALTER TABLE residents ADD COLUMN IF NOT EXISTS access_notes text;
ALTER TABLE residents ADD COLUMN IF NOT EXISTS language text;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS incident_id bigint REFERENCES incidents (id);
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS count integer NOT NULL DEFAULT 1;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS last_seen_at timestamptz;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS reason_code text;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS reason_values jsonb;
-- alerts opened before incidents existed: each becomes an incident of its own, and
-- its key a finding; then every alert belongs to an incident and has a known status
DO $$
DECLARE
    a record;
    inc bigint;
BEGIN
    FOR a IN SELECT * FROM alerts WHERE incident_id IS NULL ORDER BY id LOOP
        INSERT INTO incidents (subject, resident_id, device_id, opened_at, last_seen_at,
                               severity, status, outcome, closed_at)
        VALUES ('legacy:' || a.id, a.resident_id, a.device_id, a.opened_at, a.opened_at,
                a.severity,
                CASE WHEN a.status IN ('open', 'acknowledged') THEN a.status ELSE 'resolved' END,
                CASE WHEN a.status IN ('open', 'acknowledged') THEN NULL ELSE 'other' END,
                CASE WHEN a.status IN ('open', 'acknowledged') THEN NULL ELSE now() END)
        RETURNING id INTO inc;
        UPDATE alerts SET incident_id = inc,
            status = CASE WHEN status IN ('open', 'acknowledged') THEN status ELSE 'resolved' END
            WHERE id = a.id;
        INSERT INTO alert_findings (dedup_key, alert_id, observed_at)
        VALUES (a.dedup_key, a.id, a.observed_at) ON CONFLICT DO NOTHING;
    END LOOP;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'alerts_status_check') THEN
        ALTER TABLE alerts ADD CONSTRAINT alerts_status_check CHECK (status IN ('open',
            'acknowledged', 'dispatched', 'on_scene', 'resolved', 'cancelled'));
    END IF;
END
$$;
ALTER TABLE alerts ALTER COLUMN incident_id SET NOT NULL;
CREATE INDEX IF NOT EXISTS alerts_incident ON alerts (incident_id, rule);
CREATE INDEX IF NOT EXISTS alert_findings_alert ON alert_findings (alert_id);
ALTER TABLE service_points ADD COLUMN IF NOT EXISTS district text;
ALTER TABLE service_points ADD COLUMN IF NOT EXISTS capabilities text[] NOT NULL DEFAULT '{}';
ALTER TABLE service_points ADD COLUMN IF NOT EXISTS hours jsonb;
ALTER TABLE service_points ADD COLUMN IF NOT EXISTS capacity integer NOT NULL DEFAULT 2
    CHECK (capacity >= 0);
ALTER TABLE service_points ADD COLUMN IF NOT EXISTS accept_within_s integer NOT NULL
    DEFAULT 180 CHECK (accept_within_s > 0);

-- Commands to devices (devices.commands): asked through the API, published on
-- anxin/v1/<id>/cmd with the broker's acknowledgement as `published_at`, answered by
-- the device (or the watch gateway for it) with a `command_result` event.
CREATE TABLE IF NOT EXISTS device_commands (
    id           bigserial PRIMARY KEY,
    device_id    text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    command      text NOT NULL,
    params       jsonb NOT NULL DEFAULT '{}',
    requested_by text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    -- why it could not be handed to the broker (it was then not sent at all)
    failed       text,
    answered_at  timestamptz,
    ok           boolean,
    detail       text
);
CREATE INDEX IF NOT EXISTS device_commands_device ON device_commands (device_id, id DESC);

-- What each domain publishes for the others to read -----------------------------------
-- A domain's tables are its own: another domain reads them only through its functions
-- or through one of these views, whose columns are the contract (tests/test_layout.py).

-- devices: the resident directory, the emergency contacts, the device register
CREATE OR REPLACE VIEW resident_directory AS
    SELECT id, name, home_lat, home_lon, address, flags, phone, birth_date, district,
           community, medical_notes, allergies, mobility, access_notes, language
    FROM residents;
CREATE OR REPLACE VIEW contact_directory AS
    SELECT resident_id, position, name, relation, phone, sms FROM resident_contacts;
CREATE OR REPLACE VIEW device_register AS
    SELECT id, kind, resident_id, expected_interval_s, registered_at, protocol, name
    FROM devices;

-- ingest: what devices said, as stored
CREATE OR REPLACE VIEW stored_vitals AS
    SELECT ts, device_id, hr, spo2, temp, sbp, dbp, rr, steps, battery FROM vitals;
CREATE OR REPLACE VIEW stored_events AS
    SELECT ts, device_id, type, event_key, data FROM events;
CREATE OR REPLACE VIEW stored_locations AS
    SELECT ts, device_id, lat, lon, acc FROM locations;
CREATE OR REPLACE VIEW stored_status AS
    SELECT ts, device_id, online, battery, rssi, fw FROM device_status;

-- alerts and dispatch, for the district's reports: incidents and help requests
CREATE OR REPLACE VIEW incident_history AS
    SELECT id, resident_id, device_id, district, severity, status, opened_at,
           acknowledged_at, dispatched_at, on_scene_at, closed_at, service_point_id, outcome
    FROM incidents;
CREATE OR REPLACE VIEW help_request_history AS
    SELECT id, requested_at, device_id, resident_id, service, status, point_id,
           accepted_at, done_at, closed_at
    FROM service_requests;
