import { describe, expect, it } from "vitest";
import { StoreInputError } from "@gapfill/kit";
import { ApiError, toErrorResponse } from "../src/errors.ts";

describe("toErrorResponse", () => {
  it("answers the store's StoreInputError with 400 and its message", () => {
    const { status, body } = toErrorResponse(new StoreInputError("limit: expected an integer from 1 to 100000, got 0"));
    expect(status).toBe(400);
    expect(body).toEqual({ error: { code: "invalid_request", message: "limit: expected an integer from 1 to 100000, got 0" } });
  });

  it("keeps an ApiError's status and code, and hides anything unexpected behind a 500", () => {
    expect(toErrorResponse(new ApiError(410, "session_stopped", "stopped"))).toEqual({
      status: 410,
      body: { error: { code: "session_stopped", message: "stopped" } },
    });
    const internal = toErrorResponse(new Error("connection refused at 10.0.0.5"));
    expect(internal.status).toBe(500);
    expect(internal.body.error.message).not.toContain("10.0.0.5");
  });
});
