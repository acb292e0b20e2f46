-- Configuration resources of every kind. The spec is the kind's JSON document (config.proto
-- *Spec); prompts keep every version in prompt_versions and their latest here.
CREATE TABLE resources (
  kind       text        NOT NULL,
  name       text        NOT NULL,
  spec       jsonb       NOT NULL,
  labels     jsonb       NOT NULL DEFAULT '{}',
  version    integer     NOT NULL DEFAULT 1,
  etag       text        NOT NULL,
  -- Credentials only: the secret sealed with AES-256-GCM under PARLEY_MASTER_KEY.
  secret     bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, name)
);

CREATE INDEX resources_labels ON resources USING gin (labels);

CREATE TABLE prompt_versions (
  kind       text        NOT NULL DEFAULT 'prompt' CHECK (kind = 'prompt'),
  name       text        NOT NULL,
  version    integer     NOT NULL,
  spec       jsonb       NOT NULL,
  etag       text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, version),
  FOREIGN KEY (kind, name) REFERENCES resources (kind, name) ON DELETE CASCADE
);

-- Which resource names which: kept in step with every write so that a delete of something still
-- referenced is refused (RESTRICT), and the error can name the referrer.
CREATE TABLE refs (
  from_kind text NOT NULL,
  from_name text NOT NULL,
  to_kind   text NOT NULL,
  to_name   text NOT NULL,
  field     text NOT NULL,
  PRIMARY KEY (from_kind, from_name, to_kind, to_name),
  FOREIGN KEY (from_kind, from_name) REFERENCES resources (kind, name) ON DELETE CASCADE,
  FOREIGN KEY (to_kind, to_name) REFERENCES resources (kind, name) ON DELETE RESTRICT
);

CREATE INDEX refs_to ON refs (to_kind, to_name);

-- Do-not-call list: campaign '' is a global entry.
CREATE TABLE dnc (
  number     text        NOT NULL,
  campaign   text        NOT NULL DEFAULT '',
  reason     text        NOT NULL DEFAULT '',
  call_id    text        NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (number, campaign)
);

CREATE INDEX dnc_newest ON dnc (created_at DESC, number, campaign);
CREATE INDEX dnc_campaign ON dnc (campaign, created_at DESC);
