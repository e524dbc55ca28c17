-- An agency's read models (issue 25, ADR 0003): every table of the gateway that holds one
-- agency's data, created in the agency's own schema. Names are unqualified: the gateway applies
-- this file with `search_path` set to the schema (adapters/agency_schemas.py). It is the
-- structure migrations 0001-0020 gave the schema `gateway`, the default agency's, and
-- tests/integration/gateway/test_agency_schemas.py checks that both stay the same.
-- A later change to these tables is a new file here, applied to every agency's schema.


CREATE TABLE members (
    member_id text NOT NULL,
    name text NOT NULL,
    department_id text NOT NULL,
    phone text,
    roles text[] NOT NULL,
    party_member boolean NOT NULL,
    registered_at timestamp with time zone NOT NULL,
    left_at timestamp with time zone,
    registered_source text DEFAULT ''::text NOT NULL,
    registered_id text DEFAULT ''::text NOT NULL,
    left_source text,
    left_id text,
    home_address text,
    born_on date,
    joined_party_on date,
    "position" text
);

CREATE VIEW active_members AS
 SELECT members.member_id,
    members.name,
    members.department_id,
    members.phone,
    members.roles,
    members.party_member,
    members.registered_at,
    members.left_at,
    members.registered_source,
    members.registered_id,
    members.left_source,
    members.left_id,
    members.home_address,
    members.born_on,
    members.joined_party_on,
    members."position"
   FROM members
  WHERE ((members.left_at IS NULL) OR (ROW(members.left_at, (members.left_source COLLATE "C"), (members.left_id COLLATE "C")) < ROW(members.registered_at, (members.registered_source COLLATE "C"), (members.registered_id COLLATE "C"))));

CREATE TABLE appeals (
    appeal_id text NOT NULL,
    violation_id text NOT NULL,
    member_id text NOT NULL,
    reason text NOT NULL,
    filed_at timestamp with time zone NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    decision_reason text,
    decided_at timestamp with time zone,
    decided_by text,
    decided_role text
);

CREATE TABLE attendances (
    lecture_id text NOT NULL,
    member_id text NOT NULL,
    attended_at timestamp with time zone NOT NULL
);

CREATE TABLE branch_pairings (
    pairing_id text NOT NULL,
    branch_id text NOT NULL,
    partner text NOT NULL,
    partner_kind text NOT NULL,
    since date NOT NULL,
    "time" timestamp with time zone NOT NULL
);

CREATE TABLE branches (
    branch_id text NOT NULL,
    name text NOT NULL,
    stamp timestamp with time zone NOT NULL,
    stamp_source text DEFAULT ''::text NOT NULL,
    stamp_id text DEFAULT ''::text NOT NULL
);

CREATE TABLE bulletins (
    month text NOT NULL,
    body jsonb NOT NULL
);

CREATE TABLE contributions (
    quarter text NOT NULL,
    level text NOT NULL,
    subject_id text NOT NULL,
    component text NOT NULL,
    source text NOT NULL,
    id text NOT NULL,
    type text,
    CONSTRAINT contributions_level_check CHECK ((level = ANY (ARRAY['member'::text, 'department'::text])))
);

CREATE TABLE dashboard_actions (
    id text NOT NULL,
    type text NOT NULL,
    subject text NOT NULL,
    "time" timestamp with time zone NOT NULL,
    actor text NOT NULL,
    actorrole text NOT NULL,
    data jsonb NOT NULL
);

CREATE TABLE dead_letters (
    topic text NOT NULL,
    partition integer NOT NULL,
    "offset" bigint NOT NULL,
    body jsonb NOT NULL,
    raw bytea,
    reason text,
    redriven_at timestamp with time zone
);

CREATE TABLE departments (
    department_id text NOT NULL,
    name text NOT NULL,
    branch_id text NOT NULL,
    leader_id text NOT NULL,
    stamp timestamp with time zone NOT NULL,
    stamp_source text DEFAULT ''::text NOT NULL,
    stamp_id text DEFAULT ''::text NOT NULL
);

CREATE TABLE event_facts (
    source text NOT NULL,
    id text NOT NULL,
    type text NOT NULL,
    "time" timestamp with time zone NOT NULL,
    data jsonb NOT NULL
);

CREATE TABLE event_status (
    source text NOT NULL,
    id text NOT NULL,
    status text NOT NULL,
    body jsonb NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    late_for text
);

CREATE TABLE health_card_rounds (
    round_id text NOT NULL,
    title text NOT NULL,
    questions text[] NOT NULL,
    closes_on date NOT NULL,
    opened_at timestamp with time zone NOT NULL
);

CREATE TABLE health_cards (
    round_id text NOT NULL,
    member_id text NOT NULL,
    answers text[] NOT NULL,
    filled_at timestamp with time zone NOT NULL,
    reviewer_id text,
    comment text,
    reviewed_at timestamp with time zone
);

CREATE TABLE households (
    household_id text NOT NULL,
    village text NOT NULL,
    head_name text NOT NULL,
    stamp timestamp with time zone NOT NULL,
    stamp_source text NOT NULL,
    stamp_id text NOT NULL
);

CREATE TABLE inbox_reads (
    member_id text NOT NULL,
    read_until timestamp with time zone NOT NULL
);

CREATE TABLE kpis (
    source text NOT NULL,
    id text NOT NULL,
    subject_type text NOT NULL,
    subject_id text NOT NULL,
    metric text NOT NULL,
    period text NOT NULL,
    value double precision NOT NULL,
    unit text,
    reported_at timestamp with time zone NOT NULL
);

CREATE TABLE lectures (
    lecture_id text NOT NULL,
    date date,
    module text,
    theme text,
    title text,
    speaker_id text,
    scheduled_at timestamp with time zone,
    delivered_at timestamp with time zone,
    delivered_by text
);

CREATE TABLE meeting_presence (
    meeting_id text NOT NULL,
    member_id text NOT NULL,
    presence text NOT NULL,
    reason text,
    held_on date NOT NULL
);

CREATE TABLE meetings (
    meeting_id text NOT NULL,
    branch_id text NOT NULL,
    kind text NOT NULL,
    held_on date NOT NULL,
    topic text NOT NULL,
    minutes text,
    recorded_by text NOT NULL,
    expected integer NOT NULL,
    attended integer NOT NULL,
    on_leave integer NOT NULL,
    absent integer NOT NULL,
    "time" timestamp with time zone NOT NULL,
    source text NOT NULL,
    id text NOT NULL
);

CREATE TABLE notifications (
    key text NOT NULL,
    recipient_id text NOT NULL,
    status text NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    body jsonb NOT NULL
);

CREATE TABLE outreach_views (
    key text NOT NULL,
    view text NOT NULL,
    member_id text,
    body jsonb NOT NULL,
    computed_at timestamp with time zone NOT NULL,
    period text
);

CREATE TABLE pairing_activities (
    activity_id text NOT NULL,
    pairing_id text NOT NULL,
    held_on date NOT NULL,
    title text NOT NULL,
    participants text[] NOT NULL,
    notes text,
    "time" timestamp with time zone NOT NULL
);

CREATE TABLE ranking_totals (
    quarter text NOT NULL,
    level text NOT NULL,
    scored integer NOT NULL,
    ranked integer NOT NULL,
    matched integer NOT NULL
);

CREATE TABLE registry_version (
    only_row boolean DEFAULT true NOT NULL,
    version bigint NOT NULL,
    CONSTRAINT registry_version_only_row_check CHECK (only_row)
);

CREATE TABLE reports (
    report_id text NOT NULL,
    member_id text NOT NULL,
    kind text NOT NULL,
    happened_on date NOT NULL,
    household_id text,
    title text,
    minutes integer,
    notes text,
    submitted_at timestamp with time zone NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    decision_reason text,
    decided_at timestamp with time zone,
    decided_by text,
    counted_as text
);

CREATE TABLE retractions (
    violation_id text NOT NULL,
    reason text NOT NULL,
    "time" timestamp with time zone NOT NULL
);

CREATE TABLE score_ranks (
    quarter text NOT NULL,
    level text NOT NULL,
    id text NOT NULL,
    rank integer NOT NULL,
    chunk integer NOT NULL,
    CONSTRAINT score_ranks_level_check CHECK ((level = ANY (ARRAY['member'::text, 'department'::text, 'branch'::text])))
)
WITH (fillfactor='70');

CREATE TABLE score_totals (
    quarter text NOT NULL,
    level text NOT NULL,
    department_id text NOT NULL,
    scored integer NOT NULL
);

CREATE TABLE scores (
    quarter text NOT NULL,
    level text NOT NULL,
    id text NOT NULL,
    department_id text,
    branch_id text,
    index_exact double precision NOT NULL,
    status text NOT NULL,
    body jsonb NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT scores_level_check CHECK ((level = ANY (ARRAY['member'::text, 'department'::text, 'branch'::text])))
)
WITH (fillfactor='75');

CREATE TABLE secondments (
    secondment_id text NOT NULL,
    member_id text NOT NULL,
    post text NOT NULL,
    campaign text NOT NULL,
    from_on date NOT NULL,
    until_on date NOT NULL,
    "time" timestamp with time zone NOT NULL,
    source text NOT NULL,
    id text NOT NULL
);

CREATE TABLE selections (
    key text NOT NULL,
    kind text NOT NULL,
    status text NOT NULL,
    body jsonb NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT selections_kind_check CHECK ((kind = ANY (ARRAY['quarter'::text, 'year'::text])))
);

CREATE TABLE talks (
    talk_id text NOT NULL,
    host_id text NOT NULL,
    member_id text NOT NULL,
    category text NOT NULL,
    reason text,
    note text,
    "time" timestamp with time zone NOT NULL,
    source text NOT NULL,
    id text NOT NULL
);

CREATE TABLE tasks (
    task_id text NOT NULL,
    kind text NOT NULL,
    assignee_id text NOT NULL,
    member_id text NOT NULL,
    status text NOT NULL,
    due timestamp with time zone NOT NULL,
    body jsonb NOT NULL
);

CREATE TABLE violations (
    violation_id text NOT NULL,
    member_id text NOT NULL,
    rule integer NOT NULL,
    description text NOT NULL,
    inspector_id text NOT NULL,
    "time" timestamp with time zone NOT NULL
);

ALTER TABLE ONLY appeals
    ADD CONSTRAINT appeals_pkey PRIMARY KEY (appeal_id);

ALTER TABLE ONLY attendances
    ADD CONSTRAINT attendances_pkey PRIMARY KEY (lecture_id, member_id);

ALTER TABLE ONLY branch_pairings
    ADD CONSTRAINT branch_pairings_pkey PRIMARY KEY (pairing_id);

ALTER TABLE ONLY branches
    ADD CONSTRAINT branches_pkey PRIMARY KEY (branch_id);

ALTER TABLE ONLY bulletins
    ADD CONSTRAINT bulletins_pkey PRIMARY KEY (month);

ALTER TABLE ONLY contributions
    ADD CONSTRAINT contributions_pkey PRIMARY KEY (quarter, level, subject_id, component, source, id);

ALTER TABLE ONLY dashboard_actions
    ADD CONSTRAINT dashboard_actions_pkey PRIMARY KEY (id);

ALTER TABLE ONLY dead_letters
    ADD CONSTRAINT dead_letters_pkey PRIMARY KEY (topic, partition, "offset");

ALTER TABLE ONLY departments
    ADD CONSTRAINT departments_pkey PRIMARY KEY (department_id);

ALTER TABLE ONLY event_facts
    ADD CONSTRAINT event_facts_pkey PRIMARY KEY (source, id);

ALTER TABLE ONLY event_status
    ADD CONSTRAINT event_status_pkey PRIMARY KEY (source, id);

ALTER TABLE ONLY health_card_rounds
    ADD CONSTRAINT health_card_rounds_pkey PRIMARY KEY (round_id);

ALTER TABLE ONLY health_cards
    ADD CONSTRAINT health_cards_pkey PRIMARY KEY (round_id, member_id);

ALTER TABLE ONLY households
    ADD CONSTRAINT households_pkey PRIMARY KEY (household_id);

ALTER TABLE ONLY inbox_reads
    ADD CONSTRAINT inbox_reads_pkey PRIMARY KEY (member_id);

ALTER TABLE ONLY kpis
    ADD CONSTRAINT kpis_pkey PRIMARY KEY (source, id);

ALTER TABLE ONLY lectures
    ADD CONSTRAINT lectures_pkey PRIMARY KEY (lecture_id);

ALTER TABLE ONLY meeting_presence
    ADD CONSTRAINT meeting_presence_pkey PRIMARY KEY (meeting_id, member_id);

ALTER TABLE ONLY meetings
    ADD CONSTRAINT meetings_pkey PRIMARY KEY (meeting_id);

ALTER TABLE ONLY members
    ADD CONSTRAINT members_pkey PRIMARY KEY (member_id);

ALTER TABLE ONLY notifications
    ADD CONSTRAINT notifications_pkey PRIMARY KEY (key);

ALTER TABLE ONLY outreach_views
    ADD CONSTRAINT outreach_views_pkey PRIMARY KEY (key);

ALTER TABLE ONLY pairing_activities
    ADD CONSTRAINT pairing_activities_pkey PRIMARY KEY (activity_id);

ALTER TABLE ONLY ranking_totals
    ADD CONSTRAINT ranking_totals_pkey PRIMARY KEY (quarter, level);

ALTER TABLE ONLY registry_version
    ADD CONSTRAINT registry_version_pkey PRIMARY KEY (only_row);

ALTER TABLE ONLY reports
    ADD CONSTRAINT reports_pkey PRIMARY KEY (report_id);

ALTER TABLE ONLY retractions
    ADD CONSTRAINT retractions_pkey PRIMARY KEY (violation_id);

ALTER TABLE ONLY score_ranks
    ADD CONSTRAINT score_ranks_pkey PRIMARY KEY (quarter, level, id);

ALTER TABLE ONLY score_totals
    ADD CONSTRAINT score_totals_pkey PRIMARY KEY (quarter, level, department_id);

ALTER TABLE ONLY scores
    ADD CONSTRAINT scores_pkey PRIMARY KEY (quarter, level, id);

ALTER TABLE ONLY secondments
    ADD CONSTRAINT secondments_pkey PRIMARY KEY (secondment_id);

ALTER TABLE ONLY selections
    ADD CONSTRAINT selections_pkey PRIMARY KEY (key);

ALTER TABLE ONLY talks
    ADD CONSTRAINT talks_pkey PRIMARY KEY (talk_id);

ALTER TABLE ONLY tasks
    ADD CONSTRAINT tasks_pkey PRIMARY KEY (task_id);

ALTER TABLE ONLY violations
    ADD CONSTRAINT violations_pkey PRIMARY KEY (violation_id);

CREATE INDEX appeals_by_member ON appeals USING btree (member_id, filed_at);

CREATE INDEX appeals_by_violation ON appeals USING btree (violation_id);

CREATE INDEX branch_pairings_by_branch ON branch_pairings USING btree (branch_id);

CREATE INDEX contributions_by_event ON contributions USING btree (source, id);

CREATE INDEX dashboard_actions_by_type ON dashboard_actions USING btree (type, "time" DESC, id);

CREATE INDEX event_status_late ON event_status USING btree (late_for) WHERE (late_for IS NOT NULL);

CREATE INDEX health_cards_by_member ON health_cards USING btree (member_id);

CREATE INDEX kpis_by_subject ON kpis USING btree (subject_type, subject_id, metric, period, reported_at);

CREATE INDEX meeting_presence_by_member ON meeting_presence USING btree (member_id, held_on DESC);

CREATE INDEX meetings_by_branch ON meetings USING btree (branch_id, kind, held_on DESC);

CREATE INDEX meetings_by_day ON meetings USING btree (held_on DESC, meeting_id);

CREATE INDEX notifications_by_recipient ON notifications USING btree (recipient_id, updated_at);

CREATE INDEX notifications_newest ON notifications USING btree (updated_at DESC, key);

CREATE INDEX outreach_views_computed_at ON outreach_views USING btree (computed_at);

CREATE INDEX outreach_views_lines ON outreach_views USING btree (view, period, member_id COLLATE "C") WHERE (body <> 'null'::jsonb);

CREATE INDEX pairing_activities_by_pairing ON pairing_activities USING btree (pairing_id, held_on);

CREATE INDEX reports_by_member ON reports USING btree (member_id, submitted_at);

CREATE INDEX reports_pending ON reports USING btree (submitted_at) WHERE (status = 'pending'::text);

CREATE INDEX score_ranks_by_chunk ON score_ranks USING btree (quarter, level, chunk, rank);

CREATE INDEX score_ranks_in_order ON score_ranks USING btree (quarter, level, rank, id);

CREATE INDEX scores_by_department ON scores USING btree (quarter, level, department_id);

CREATE INDEX secondments_by_member ON secondments USING btree (member_id);

CREATE INDEX talks_by_time ON talks USING btree ("time");

CREATE INDEX tasks_by_assignee ON tasks USING btree (assignee_id, status);

CREATE INDEX violations_by_member ON violations USING btree (member_id, "time");


INSERT INTO registry_version (version) VALUES (0);
