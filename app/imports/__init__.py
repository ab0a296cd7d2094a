"""Imports of CSV and XLSX files into an entity (docs/imports.md): no Flask here; the web
pages (app/web/imports.py), the CLI (app/cli_import.py) and the task queue call these.

- `reader`: the file (kind, encoding, delimiter, sheet, header row), streamed row by row;
- `mapping`: columns -> fields (matched by name and label in both languages), templates;
- `options`: how rows are read and written (date order, duplicates, upsert key, lookup keys);
- `parse`: cells -> values through each field type's `parse_cell`, lookups in bulk;
- `dedupe`: duplicates against existing records and earlier rows;
- `run`: upload, configure, start (inline or `imports.run` on the queue), the job itself;
- `undo`: taking an import back; `jobs`: the `sys_import` rows, errors and the CSV report.
"""

from app.imports.jobs import ImportJob
from app.imports.options import ImportOptions, SetupProblem
from app.imports.reader import FileProblem
from app.imports.run import configure, may_import, start, store_of, upload
from app.imports.undo import undo

__all__ = ["FileProblem", "ImportJob", "ImportOptions", "SetupProblem", "configure",
           "may_import", "start", "store_of", "undo", "upload"]
