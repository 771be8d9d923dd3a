-- One PostgreSQL server, one database per service (a service never reads
-- another's). Run by the postgres image as POSTGRES_USER (trellis) from
-- /docker-entrypoint-initdb.d/, only when the data volume is first created:
-- after changing this file, `docker compose down -v` to re-initialise.
CREATE DATABASE trellis_identity;
CREATE DATABASE trellis_governance;
CREATE DATABASE trellis_work;
