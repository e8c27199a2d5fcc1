import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJsonValue, canonicalText, textFault } from "../../src/audit/canonicalText.js";
import { zafAgentOf } from "../../src/auth/zafToken.js";
import { anyText } from "./arbitraryText.js";

// No database here (stored text: canonicalTextStored.test.ts), so a mutation re-run of these costs a fraction of a second.
describe("canonicalText", () => {
  it("replaces unpaired surrogates with U+FFFD and removes NUL, keeping pairs", () => {
    expect(canonicalText("a\ud800b")).toBe("a\ufffdb");
    expect(canonicalText("\udc00\ud83d\ude00\ud83d")).toBe("\ufffd\ud83d\ude00\ufffd");
    expect(canonicalText("\ud800\u0000\udc00")).toBe("\ufffd\ufffd");
    expect(canonicalText("n\u0000ul")).toBe("nul");
    expect(canonicalText("plain ü 😀")).toBe("plain ü 😀");
  });

  it("is idempotent and always gives text that can be stored as is", () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const once = canonicalText(text);
        expect(textFault(once)).toBeNull();
        expect(canonicalText(once)).toBe(once);
        // What a database would do to it (UTF-8 encode/decode) changes nothing more.
        expect(Buffer.from(once, "utf8").toString("utf8")).toBe(once);
      }),
    );
  });

  it("makes the agent's name and email from a ZAF token canonical, also where the length cut splits a pair", () => {
    const agent = zafAgentOf({ sub: "42", name: `${"n".repeat(319)}\ud83d\ude00`, email: "a\u0000@example.com" }, "steward-demo.zendesk.com");
    expect(agent.name).toBe(`${"n".repeat(319)}\ufffd`);
    expect(agent.email).toBe("a@example.com");
  });

  it("canonicalises keys and values at every depth, keeping a __proto__ key as a key", () => {
    const value = JSON.parse('{"__proto__":{"k\\u0000":"\\ud800"},"list":["\\udc00",1,null]}') as unknown;
    expect(JSON.stringify(canonicalJsonValue(value))).toBe('{"__proto__":{"k":"\ufffd"},"list":["\ufffd",1,null]}');
  });

  it("gives plain objects, as JSON.parse does: every key enumerable, writable and configurable", () => {
    const text = '{"a":{"b":"c"},"__proto__":1}';
    const out = canonicalJsonValue(JSON.parse(text) as Record<string, unknown>);
    expect(Object.getOwnPropertyDescriptors(out)).toEqual(Object.getOwnPropertyDescriptors(JSON.parse(text)));
    expect(Object.getOwnPropertyDescriptors(out.a)).toEqual({ b: { value: "c", enumerable: true, writable: true, configurable: true } });
  });

  it("names what keeps a text from being stored as given", () => {
    expect([textFault("a\u0000b"), textFault("\ud800 and \u0000"), textFault("a\udc00"), textFault("plain ü 😀")]).toEqual(["nul", "nul", "lone_surrogate", null]);
  });
});
