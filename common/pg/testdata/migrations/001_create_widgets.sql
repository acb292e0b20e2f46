-- Unqualified names land in the schema being migrated (search_path is set by Migrate).
CREATE TABLE widgets (
  id bigserial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  weight int NOT NULL CHECK (weight > 0)
);
