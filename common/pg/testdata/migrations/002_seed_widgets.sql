-- Exactly one row per successful application: concurrent starts must not apply this twice.
INSERT INTO widgets (name, weight) VALUES ('seed', 1);
