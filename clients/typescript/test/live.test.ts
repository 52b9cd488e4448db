/**
 * The generated client against a running leadgate: LEADGATE_URL and LEADGATE_API_KEY name it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";

import { createLeadgateClient, type ErrorBody, type Lead } from "../src/index.js";

const baseUrl = process.env.LEADGATE_URL ?? "http://127.0.0.1:8000";
const apiKey = process.env.LEADGATE_API_KEY ?? "";
const leadgate = createLeadgateClient({ baseUrl, apiKey });

test("creates a lead, reads it back, lists it", async () => {
  const email = `ts.${crypto.randomUUID()}@example.com`;
  const created = await leadgate.POST("/api/v1/leads", {
    body: { firstName: "Type", lastName: `Script ${email}`, email, tags: ["TypeScript"] },
  });
  assert.equal(created.response.status, 201);
  // 201 is the new lead; a 200 would be a merge or a dry run: `in` narrows to the lead.
  const data = created.data;
  assert.ok(data && "id" in data);
  const lead: Lead = data;
  assert.equal(lead.email, email);
  assert.deepEqual(lead.tags.map((tag) => tag.name), ["TypeScript"]);

  const read = await leadgate.GET("/api/v1/leads/{lead_id}", {
    params: { path: { lead_id: lead.id } },
  });
  assert.equal(read.data?.id, lead.id);

  const page = await leadgate.GET("/api/v1/leads", { params: { query: { limit: 100 } } });
  assert.ok(page.data?.data.some((each) => each.id === lead.id));
});

test("errors come back typed: a duplicate is 409 with the lead it matched", async () => {
  const email = `dup.${crypto.randomUUID()}@example.com`;
  const first = await leadgate.POST("/api/v1/leads", {
    body: { firstName: "Dup", lastName: email, email },
  });
  assert.ok(first.data && "id" in first.data);
  const existing = first.data.id;
  const second = await leadgate.POST("/api/v1/leads", {
    body: { firstName: "Other", lastName: "Person", email },
  });
  assert.equal(second.response.status, 409);
  const error: ErrorBody | undefined = second.error;
  assert.equal(error?.error, "duplicate_lead");
  assert.equal((second.error as Record<string, unknown>)["existingLeadId"], existing);

  const invalid = await leadgate.POST("/api/v1/leads", {
    body: { firstName: "", lastName: "Nobody" },
  });
  assert.equal(invalid.response.status, 400);
  assert.equal(invalid.error?.error, "invalid_request");
});

test("find or create is one idempotent action", async () => {
  const email = `foc.${crypto.randomUUID()}@example.com`;
  const body = { firstName: "Find", lastName: email, email, requestSource: "api_zapier" as const };
  const made = await leadgate.POST("/api/v1/leads/find-or-create", { body });
  assert.equal(made.response.status, 201);
  assert.equal(made.data?.created, true);
  const found = await leadgate.POST("/api/v1/leads/find-or-create", { body });
  assert.equal(found.response.status, 200);
  assert.equal(found.data?.created, false);
  assert.equal(found.data?.id, made.data?.id);
});

test("a wrong key is 401 invalid_api_key", async () => {
  const stranger = createLeadgateClient({ baseUrl, apiKey: "lg_not_a_key" });
  const denied = await stranger.GET("/api/v1/leads");
  assert.equal(denied.response.status, 401);
  assert.equal(denied.error?.error, "invalid_api_key");
});
