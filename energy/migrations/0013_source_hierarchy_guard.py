"""The source hierarchy and a source's type, held by the database (PostgreSQL).

A parent belongs to the same customer and is never the source's own
descendant; a source's type, which the hourly step reads for the sign of its
energy, is fixed once readings or attributions exist. ``Source.clean`` checks
the same on every save path; embedded SQLite has only that check (it rebuilds
tables on schema changes, which would drop a trigger silently).
"""

from django.db import migrations

from core.ledger_guard import postgres_only

CREATE = """
CREATE FUNCTION energy_source_hierarchy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.parent_id IS NOT NULL THEN
        IF NOT EXISTS (SELECT FROM energy_source p
                       WHERE p.id = NEW.parent_id AND p.customer_id = NEW.customer_id) THEN
            RAISE EXCEPTION 'source %%: its parent must belong to the same customer', NEW.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF EXISTS (
            WITH RECURSIVE up(id, parent_id, depth) AS (
                SELECT id, parent_id, 1 FROM energy_source WHERE id = NEW.parent_id
                UNION ALL
                SELECT s.id, s.parent_id, up.depth + 1
                FROM energy_source s JOIN up ON s.id = up.parent_id
                WHERE up.depth < 1000
            )
            SELECT FROM up WHERE id = NEW.id
        ) THEN
            RAISE EXCEPTION 'source %%: a source cannot be its own ancestor', NEW.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF NEW.customer_id <> OLD.customer_id AND EXISTS (
            SELECT FROM energy_source c WHERE c.parent_id = NEW.id
        ) THEN
            RAISE EXCEPTION 'source %%: its children would belong to another customer', NEW.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF NEW.type <> OLD.type AND (
            EXISTS (SELECT FROM energy_reading r WHERE r.source_id = OLD.id)
            OR EXISTS (SELECT FROM energy_attribution a WHERE a.source_id = OLD.id)
        ) THEN
            RAISE EXCEPTION 'source %%: the type is fixed once it has readings', NEW.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER energy_source_hierarchy
    BEFORE INSERT OR UPDATE OF parent_id, customer_id, type ON energy_source
    FOR EACH ROW EXECUTE FUNCTION energy_source_hierarchy();
"""
DROP = """
DROP TRIGGER energy_source_hierarchy ON energy_source;
DROP FUNCTION energy_source_hierarchy();
"""


class Migration(migrations.Migration):
    dependencies = [("energy", "0012_links_leave_the_attribution_row")]

    operations = [postgres_only(CREATE, DROP)]
