"""Automations: "when <event> [where conditions] then <actions>" rules, run by the worker from
the event outbox, with a run history per rule."""
