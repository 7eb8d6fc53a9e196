-- 0020: coffer.record_dedup in stream order.
--
-- verify matches each record with its dedup row one to one, chunk by chunk
-- in seq order, instead of two anti-joins over the whole tenant (which read
-- every record's heap a second time: a third of verify's time).  A dedup
-- row at a seq that holds no record (a planted receipt) or a record without
-- its row is found where it lies.  One more btree entry per record for the
-- gateway, appended in stream order.
CREATE INDEX record_dedup_stream_seq
	ON coffer.record_dedup (tenant_id, stream_id, seq);
