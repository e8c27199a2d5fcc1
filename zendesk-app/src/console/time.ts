/** Times are stored in UTC and shown in the agent's Zendesk time zone. */

/** How far the zone's wall clock is ahead of UTC at this instant, in ms. */
function offsetAt(instant: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second")) - Math.floor(instant / 1000) * 1000;
}

const DAY_MS = 86_400_000;

/**
 * A `datetime-local` value read as wall time in `timeZone` → the UTC ISO instant (null when empty or invalid).
 * Next to a daylight-saving change it resolves as JavaScript and Temporal do ("compatible"), in every zone alike:
 * a wall time that happens twice (clocks go back) is its first occurrence; one that never happens (clocks go
 * forward) is read with the offset in force before the change, so it lands just after the gap.
 */
export function zonedToUtc(local: string, timeZone: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local);
  if (!m) return null;
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
  // The offsets a day either side cover any change near this wall time; each that this wall time really has is a reading.
  const before = offsetAt(wall - DAY_MS, timeZone);
  const after = offsetAt(wall + DAY_MS, timeZone);
  const readings = [...new Set([before, after])].map((offset) => wall - offset).filter((instant) => offsetAt(instant, timeZone) === wall - instant);
  return new Date(readings.length > 0 ? Math.min(...readings) : wall - before).toISOString();
}

/** A UTC ISO instant → the `datetime-local` value of that instant in `timeZone`. */
export function utcToZoned(iso: string, timeZone: string): string {
  const instant = Date.parse(iso);
  return new Date(instant + offsetAt(instant, timeZone)).toISOString().slice(0, 16);
}

/** With the zone's abbreviation (timeStyle long): the hour a daylight-saving change repeats reads twice otherwise. */
export function formatInZone(iso: string, locale: string, timeZone: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(locale, { timeZone, dateStyle: "medium", timeStyle: "long" }).format(d);
}
