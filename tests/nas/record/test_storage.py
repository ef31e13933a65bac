

def test_a_table_creation_race_on_a_new_sqlite_file_is_retried_not_called_damage(tmp_path, monkeypatch):
    """A search creating its study.db while a reader opens it: one of them loses the race for the
    alembic version row (IntegrityError); that is not a damaged file, and a second attempt works."""
    import optuna
    import sqlalchemy

    from nas.record import storage as storage_module

    real = optuna.storages.RDBStorage
    calls = []

    class Racing(real):
        def __init__(self, url, **kwargs):
            calls.append(url)
            if len(calls) == 1:
                real(url, **kwargs)  # "the other process" creates the tables first...
                raise sqlalchemy.exc.IntegrityError(
                    "INSERT INTO alembic_version", {}, Exception("UNIQUE constraint failed: alembic_version.version_num"))
            super().__init__(url, **kwargs)

    monkeypatch.setattr(optuna.storages, "RDBStorage", Racing)
    url = f"sqlite:///{tmp_path / 'runs' / 'study.db'}"
    storage = storage_module.storage_from_url(url)
    assert len(calls) == 2
    assert optuna.create_study(study_name="s", storage=storage).study_name == "s"
