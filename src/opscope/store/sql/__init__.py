"""Logic the SQL backends share: what happens around a statement, written once.

The embedded store (``opscope.store.duckdb``) and the PostgreSQL store
(``opscope.store.postgres``) differ in their SQL dialects and drivers, not in what
they check, which rows they build or how they page. Each module here holds that common
part of one concept and takes from its caller what differs: the backend's database
object (see ``database.SQLDatabase``) and the statements in its dialect.
"""
