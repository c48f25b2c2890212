"""The schema steps of lima_tk/store/schema.py as a `sqlite_utils.Migrations("lima_tk")` set.

lima-tk itself applies them with `schema.apply_steps` (no sqlite_utils import, see there); this
set is the same steps for whoever works with sqlite-utils: `MIGRATIONS.applied(db)`,
`MIGRATIONS.pending(db)`, or `MIGRATIONS.apply(db, stop_before=...)` to make an older schema in
a test. Both record applied steps in `_sqlite_migrations` in the same format.
"""

from __future__ import annotations

from sqlite_utils.migrations import Migrations

from lima_tk.store.schema import MIGRATION_SET, STEPS

MIGRATIONS = Migrations(MIGRATION_SET)
for _name, _fn in STEPS:
    MIGRATIONS(name=_name)(_fn)
