-- A branch's open meeting tasks of a kind, looked up when a meeting of that kind is recorded.
CREATE INDEX IF NOT EXISTS open_meeting_tasks ON notify.tasks ((body ->> 'branch_id'), (body ->> 'cause'))
    WHERE body ->> 'kind' = 'meeting' AND body ->> 'status' = 'open';
