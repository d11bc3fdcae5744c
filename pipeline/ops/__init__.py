"""Operations on a deployed stack: its outputs, AWS calls, start/backfill/status/verify/logs."""
