"""repohub benchmark: data generator, wrk scenarios, report (python -m bench)."""
