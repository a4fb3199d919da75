"""Central's database engines behind one interface: SQLite (a file) or PostgreSQL (a URL).

    store = open_store(target)   # PATH, or postgresql://USER@HOST:PORT/DBNAME
    store.execute(sql, params)   # SQLite's SQL (`?` placeholders); rows by column name
    with store.transaction() as c: ...

connection.py opens either engine, dialect.py turns the SQLite-isms into PostgreSQL,
migrations.py keeps the schema versioned (schema.py: the first version), errors.py
says which failures are transient, target.py reads --db and --db-key-file.
"""
