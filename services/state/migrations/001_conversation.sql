-- Call history: one row per dial attempt, created by StartCall and closed by CompleteCall.
-- status and direction are the lower-case proto enum names without prefix ('in_progress',
-- 'no_answer', 'outbound'), as DESIGN.md spells them in logs and webhooks.
CREATE TABLE calls (
  call_id      text        NOT NULL,
  attempt      integer     NOT NULL CHECK (attempt > 0),
  phone        text        NOT NULL,
  phone_masked text        NOT NULL,
  agent        text        NOT NULL,
  campaign     text        NOT NULL DEFAULT '',
  direction    text        NOT NULL DEFAULT 'outbound',
  worker_id    text        NOT NULL DEFAULT '',
  lead_id      text        NOT NULL DEFAULT '',
  status       text        NOT NULL DEFAULT 'in_progress',
  ended_reason text        NOT NULL DEFAULT '',
  summary      text        NOT NULL DEFAULT '',
  started_at   timestamptz NOT NULL DEFAULT now(),
  answered_at  timestamptz,
  ended_at     timestamptz,
  ring_ms      bigint      NOT NULL DEFAULT 0,
  talk_ms      bigint      NOT NULL DEFAULT 0,
  metrics      jsonb       NOT NULL DEFAULT '{}',
  -- True when StartCall closed this attempt because another took its stale conversation over
  -- (status 'failed', ended_reason 'worker_lost'): a late CompleteCall may still record the real
  -- outcome once.
  auto_closed  boolean     NOT NULL DEFAULT false,
  PRIMARY KEY (call_id, attempt)
);

-- ListCalls: newest first by phone, agent or campaign, keyset-paginated on
-- (started_at, call_id, attempt).
CREATE INDEX calls_by_phone ON calls (phone, started_at DESC, call_id DESC, attempt DESC);
CREATE INDEX calls_by_agent ON calls (agent, started_at DESC, call_id DESC, attempt DESC);
CREATE INDEX calls_by_campaign ON calls (campaign, started_at DESC, call_id DESC, attempt DESC)
  WHERE campaign <> '';

-- Conversation memory: one row per call attempt that opened a conversation with a callee and an
-- agent. The newest row of a (phone, agent) is its current memory; StartCall copies the durable
-- keys of that row into a new one. At most one row per (phone, agent) is active (held by a call in
-- progress), which the partial unique index enforces under any race.
CREATE TABLE conversation_state (
  id            bigserial   PRIMARY KEY,
  phone         text        NOT NULL,
  phone_masked  text        NOT NULL,
  agent         text        NOT NULL,
  call_id       text        NOT NULL,
  attempt       integer     NOT NULL,
  state         jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(state) = 'object'),
  version       bigint      NOT NULL DEFAULT 1,
  active        boolean     NOT NULL DEFAULT true,
  heartbeat_at  timestamptz NOT NULL DEFAULT now(),
  call_count    integer     NOT NULL DEFAULT 1,
  -- When the first call with this callee and agent started (carried from row to row).
  first_call_at timestamptz NOT NULL DEFAULT now(),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (call_id, attempt) REFERENCES calls (call_id, attempt) ON DELETE CASCADE
);

CREATE UNIQUE INDEX conversation_state_one_active ON conversation_state (phone, agent)
  WHERE active;
CREATE UNIQUE INDEX conversation_state_by_call ON conversation_state (call_id, attempt);
CREATE INDEX conversation_state_latest ON conversation_state (phone, agent, id DESC);

-- Transcripts: one row per turn; seq is the idempotency key of AppendTurns.
CREATE TABLE turns (
  call_id     text        NOT NULL,
  attempt     integer     NOT NULL,
  seq         integer     NOT NULL CHECK (seq >= 0),
  role        text        NOT NULL,
  text        text        NOT NULL DEFAULT '',
  node        text        NOT NULL DEFAULT '',
  start_ms    bigint      NOT NULL DEFAULT 0,
  end_ms      bigint      NOT NULL DEFAULT 0,
  interrupted boolean     NOT NULL DEFAULT false,
  heard_text  text        NOT NULL DEFAULT '',
  tool        text        NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (call_id, attempt, seq),
  FOREIGN KEY (call_id, attempt) REFERENCES calls (call_id, attempt) ON DELETE CASCADE
);
