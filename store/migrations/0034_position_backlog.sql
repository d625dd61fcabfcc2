-- Fixes a terminal stored while it had no signal and uploaded afterwards (issue 19: JT/T 808's 0x0704 batch
-- of type 1, 盲区补报; GT06's re-upload flag) are marked, so a reader tells a tunnel's backfill from live
-- positions without guessing from received_at - time (a slow link or a wrong clock also makes that large).
ALTER TABLE positions ADD COLUMN IF NOT EXISTS backlog boolean NOT NULL DEFAULT false;
