"""Reports: leads over time, the conversion funnel, pipeline value, won revenue and API usage,
computed in SQL on both backends."""
