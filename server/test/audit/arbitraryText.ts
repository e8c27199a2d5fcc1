import fc from "fast-check";

/** Any UTF-16 code unit (lone surrogates included), any astral code point, and the troublemakers often. */
export const anyUnit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
  fc.constantFrom("\u0000", "\ud800", "\udbff", "\udc00", "\udfff", "\ufffd", "\ud83d\ude00"),
);
export const anyText = fc.string({ unit: anyUnit, maxLength: 40 });
export const anyJson = fc.jsonValue({ stringUnit: anyUnit, maxDepth: 3 });
