import pytest
from django.core.management import call_command


@pytest.fixture(scope="session")
def reference_geography(django_db_setup, django_db_blocker):
    """Regions, municipalities and postcodes from the real DAGI files, loaded once per run."""
    from amk.models import Municipality

    with django_db_blocker.unblock():
        if not Municipality.objects.exists():
            call_command("load_geography", verbosity=0)
    return None
