-- One PostgreSQL server, one database per service (a service never reads
-- another's). Run by the postgres image as POSTGRES_USER (trellis) from
-- /docker-entrypoint-initdb.d/, only when the data volume is first created:
-- after changing this file, `docker compose down -v` to re-initialise.
CREATE DATABASE trellis_identity;
CREATE DATABASE trellis_governance;
CREATE DATABASE trellis_work;
-- The gateway's: the rate-limit counters its replicas share.
CREATE DATABASE trellis_gateway;

-- Two roles per database (architecture.md §7): trellis, which owns the
-- databases, is the migration role of the one-shot <service>-migrate
-- services; each service runs as a runtime role of its own, which the
-- migration step grants its rows (and nothing that changes the schema).
-- Demo passwords, like trellis's own.
CREATE ROLE identity_runtime LOGIN PASSWORD 'identity_runtime';
CREATE ROLE governance_runtime LOGIN PASSWORD 'governance_runtime';
CREATE ROLE work_runtime LOGIN PASSWORD 'work_runtime';
CREATE ROLE gateway_runtime LOGIN PASSWORD 'gateway_runtime';

-- Only the roles granted CONNECT reach a database (by default every role
-- may), and nobody gets temporary tables.
REVOKE CONNECT, TEMPORARY ON DATABASE trellis_identity FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE trellis_governance FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE trellis_work FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE trellis_gateway FROM PUBLIC;
GRANT CONNECT ON DATABASE trellis_identity TO identity_runtime;
GRANT CONNECT ON DATABASE trellis_governance TO governance_runtime;
GRANT CONNECT ON DATABASE trellis_work TO work_runtime;
GRANT CONNECT ON DATABASE trellis_gateway TO gateway_runtime;
