-- The schedules read model no longer keeps its own copies of Ashby's JSON: `source_event_id`
-- points at the event in `event_log` that holds it, exactly as received. Nothing read these
-- columns, and writing them was most of the projector's cost (two JSON documents per update).
ALTER TABLE interview_schedules DROP COLUMN IF EXISTS raw;
ALTER TABLE interview_events DROP COLUMN IF EXISTS raw;
