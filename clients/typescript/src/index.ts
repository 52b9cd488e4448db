/**
 * The leadgate API from TypeScript: `paths` and `components` are generated from the server's
 * OpenAPI document by openapi-typescript (`npm run generate`); openapi-fetch makes every call
 * typed by them — path, query, body, and each status's answer (`data` or `error`).
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";

import type { components, paths } from "./schema.js";

export type { components, paths };
export type Lead = components["schemas"]["LeadOut"];
export type LeadCreate = components["schemas"]["LeadCreate"];
export type ErrorBody = components["schemas"]["ErrorBody"];

export interface LeadgateOptions {
  /** Where leadgate is served, e.g. `https://leads.example.com` (paths carry `/api/v1`). */
  baseUrl: string;
  /** The tenant's API key, sent as `X-API-Key`. */
  apiKey: string;
  /** A `fetch` of your own (tests, proxies); the global one by default. */
  fetch?: typeof globalThis.fetch;
}

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * A typed client. Every write carries an `Idempotency-Key` (a random UUID unless the call sets
 * one), so a write retried with the same key is done at most once; reuse the key you pass when
 * you retry.
 */
export function createLeadgateClient(options: LeadgateOptions): Client<paths> {
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const authenticate: Middleware = {
    onRequest({ request }) {
      request.headers.set("X-API-Key", options.apiKey);
      if (WRITES.has(request.method) && !request.headers.has("Idempotency-Key")) {
        request.headers.set("Idempotency-Key", crypto.randomUUID());
      }
      return request;
    },
  };
  client.use(authenticate);
  return client;
}
