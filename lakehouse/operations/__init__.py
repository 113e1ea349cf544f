"""What a team does to a built lake besides running zones: erase a data subject, compact and
vacuum, read a table's Delta history and restore it. Each keeps the run ledger true, so the
next run stays incremental."""
