-- The fifth level of the tree and what the city needs of a school (issue 18).
--
-- A class (班级) is an org_unit of kind 'class' under its school, path '/city/county/township/school/class/', so
-- scoping by path covers it like any other unit; its head teacher (班主任) is a user scoped to it. A school's
-- enrolment decides how many guards GB/T 29315-2022 asks for; its stage and whether pupils board say which
-- places (dormitories) must be watched.

ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('guard', 'school_admin', 'head_teacher', 'district_officer', 'district_admin', 'auditor',
                    'admin'));

ALTER TABLE schools
    ADD COLUMN stage text CHECK (stage IN ('kindergarten', 'primary', 'middle', 'nine_year', 'high', 'vocational')),
    ADD COLUMN pupils integer CHECK (pupils > 0),
    ADD COLUMN boarding boolean NOT NULL DEFAULT false;

-- Which buses a class's pupils ride: the roster a head teacher follows. Rewritten whole by each site load.
CREATE TABLE class_buses (
    class_id  text NOT NULL REFERENCES org_units (id),
    bus_id    text NOT NULL REFERENCES buses (id),
    PRIMARY KEY (class_id, bus_id)
);
