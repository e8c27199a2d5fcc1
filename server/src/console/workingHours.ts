/** CONSOLE_WORKING_HOURS (`mon-fri 08:00-18:00 Europe/Berlin`) as ISO weekdays, minutes of the day and a time zone. */
export interface WorkingHours {
  /** ISO weekdays (1 = Monday … 7 = Sunday). */
  days: number[];
  startMinute: number;
  endMinute: number;
  timeZone: string;
}

const DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

export function parseWorkingHours(text: string): WorkingHours {
  const [dayPart = "", timePart = "", timeZone = "UTC"] = text.trim().split(/\s+/);
  const [firstDay = "mon", lastDay = firstDay] = dayPart.split("-");
  const first = DAY_NAMES.indexOf(firstDay);
  const last = DAY_NAMES.indexOf(lastDay);
  if (first < 0 || last < 0) throw new Error(`CONSOLE_WORKING_HOURS: unknown weekday in ${dayPart}`);
  // A range may wrap the week (fri-mon).
  const days: number[] = [];
  for (let d = first; ; d = (d + 1) % 7) {
    days.push(d + 1);
    if (d === last) break;
  }
  const minutes = (hhmm: string) => {
    const [h, m] = hhmm.split(":").map(Number);
    return (h ?? 0) * 60 + (m ?? 0);
  };
  const [start = "00:00", end = "24:00"] = timePart.split("-");
  return { days, startMinute: minutes(start), endMinute: minutes(end), timeZone };
}
