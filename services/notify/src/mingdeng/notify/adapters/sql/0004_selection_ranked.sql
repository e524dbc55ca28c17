-- A quarter's selection no longer carries its ranking (it comes in chunks on its own topic):
-- it says how many it ranked.
UPDATE notify.selections SET body = (body - 'ranking') || jsonb_build_object('ranked', jsonb_build_object(
        'member', jsonb_array_length(body->'ranking'->'member'),
        'department', jsonb_array_length(body->'ranking'->'department'),
        'branch', jsonb_array_length(body->'ranking'->'branch')))
WHERE body ? 'ranking';
