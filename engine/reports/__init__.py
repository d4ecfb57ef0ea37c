"""Reports read from the store: the statistics return, compliance and progress.

Each module computes plain data (aggregated in the database, so a million records are a few
GROUP BY queries); writers turn that data into .xlsx, CSV, JSON, Markdown or text tables.
Nothing here prints: ``engine/commands/reports.py`` does.
"""
