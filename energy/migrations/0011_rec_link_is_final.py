from django.db import migrations

from core.ledger_guard import postgres_only

# Once a transaction is in a REC, its REC and remainder are history like its value.
CREATE = """
CREATE FUNCTION energy_attribution_rec_link_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'energy_attribution is append-only: the REC and remainder of a '
        'transaction in a REC cannot change'
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER energy_attribution_rec_link_final BEFORE UPDATE OF rec_id, remainder
    ON energy_attribution FOR EACH ROW WHEN (OLD.rec_id IS NOT NULL)
    EXECUTE FUNCTION energy_attribution_rec_link_final();
"""
DROP = """
DROP TRIGGER energy_attribution_rec_link_final ON energy_attribution;
DROP FUNCTION energy_attribution_rec_link_final();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("energy", "0010_remove_attribution_energy_attribution_kind_consistent_and_more")
    ]

    operations = [postgres_only(CREATE, DROP)]
