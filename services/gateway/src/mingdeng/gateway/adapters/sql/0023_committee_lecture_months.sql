-- The 机关工委's figure of 讲堂 is in 期 (a month with a 微课堂 delivered, 一月一讲), counted
-- from an agency's deliveries of the year when read: at most a few hundred rows an agency.
CREATE INDEX lectures_of_a_year ON committee.lectures (agency, year, delivered_at);
